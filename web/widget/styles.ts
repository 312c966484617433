// All of the widget's CSS, inside its shadow root: the page's rules cannot reach in (`all: initial`
// on the host, and shadow `!important` beats the page's), and these cannot leak out.
export const CSS = `
:host{all:initial!important;display:block!important;visibility:visible!important;opacity:1!important}
*,*::before,*::after{box-sizing:border-box}
[hidden]{display:none!important}
.root{font:14px/1.45 system-ui,sans-serif;color:#1d2129;text-align:left;-webkit-text-size-adjust:100%}
button,input,textarea{font:inherit;color:inherit;margin:0}
button{cursor:pointer}
:focus-visible{outline:3px solid #f5a623;outline-offset:2px}
svg{width:20px;height:20px;flex:none}
.launcher{position:fixed;z-index:var(--z);display:flex;align-items:center;justify-content:center;gap:8px;border:0;background:var(--bg);color:var(--fg);box-shadow:0 4px 14px rgba(0,0,0,.25)}
.round .launcher{width:var(--size);height:var(--size);border-radius:50%}
.round .launcher svg{width:45%;height:45%}
.tab .launcher{padding:10px 18px;font-weight:600;border-radius:10px 10px 0 0}
.tab.side .launcher{writing-mode:vertical-rl;padding:18px 10px}
.tab.p-lt .launcher,.tab.p-lm .launcher,.tab.p-lb .launcher{border-radius:0 10px 10px 0}
.tab.p-rt .launcher,.tab.p-rm .launcher,.tab.p-rb .launcher{border-radius:10px 0 0 10px}
.badge{position:absolute;top:-4px;right:-4px;min-width:20px;height:20px;padding:0 6px;border-radius:10px;background:#d93025;color:#fff;font-weight:700;font-size:12px;line-height:20px;writing-mode:horizontal-tb}
.p-bl .launcher,.p-lb .launcher{left:20px;bottom:20px}
.p-br .launcher,.p-rb .launcher{right:20px;bottom:20px}
.p-bc .launcher{left:50%;bottom:20px;transform:translateX(-50%)}
.p-lt .launcher{left:20px;top:20px}
.p-rt .launcher{right:20px;top:20px}
.p-lm .launcher{left:20px;top:50%;transform:translateY(-50%)}
.p-rm .launcher{right:20px;top:50%;transform:translateY(-50%)}
.tab.bottom .launcher{bottom:0}
.tab.side .launcher{left:auto;right:auto}
.tab.p-lt .launcher,.tab.p-lm .launcher,.tab.p-lb .launcher{left:0}
.tab.p-rt .launcher,.tab.p-rm .launcher,.tab.p-rb .launcher{right:0}
.panel{position:fixed;z-index:var(--z);display:flex;flex-direction:column;width:var(--w);height:var(--h);max-width:calc(100vw - 32px);max-height:calc(100vh - 32px);background:#fff;border-radius:14px;box-shadow:0 10px 40px rgba(0,0,0,.28);overflow:hidden}
.bottom .panel{bottom:calc(var(--size) + 32px)}
.tab.bottom .panel{bottom:56px}
.p-bl .panel{left:20px}
.p-br .panel{right:20px}
.p-bc .panel{left:50%;transform:translateX(-50%)}
.side .panel{bottom:20px}
.p-lt .panel,.p-rt .panel{top:20px;bottom:auto}
.p-lt .panel,.p-lm .panel,.p-lb .panel{left:calc(var(--size) + 32px)}
.p-rt .panel,.p-rm .panel,.p-rb .panel{right:calc(var(--size) + 32px)}
.tab.side .panel{left:auto;right:auto}
.tab.p-lt .panel,.tab.p-lm .panel,.tab.p-lb .panel{left:56px}
.tab.p-rt .panel,.tab.p-rm .panel,.tab.p-rb .panel{right:56px}
header{display:flex;align-items:center;gap:10px;padding:12px 12px 12px 16px;background:var(--bg);color:var(--fg)}
.title{flex:1;min-width:0}
h2{margin:0;font-size:16px;font-weight:700;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.status{display:flex;align-items:center;gap:6px;font-size:12px}
.dot{width:8px;height:8px;border-radius:50%;background:#b0b5bb;box-shadow:0 0 0 2px rgba(255,255,255,.6)}
.on .dot{background:#2fbf55}
.x{display:flex;align-items:center;justify-content:center;width:36px;height:36px;border:0;border-radius:8px;background:transparent;color:inherit}
.notice{margin:0;padding:10px 16px;background:#fff4e0;color:#5c3b00;font-size:13px}
.notice.error{background:#fdecea;color:#7a1c14}
.log{flex:1;overflow-y:auto;overscroll-behavior:contain;display:flex;flex-direction:column;gap:4px;padding:14px 12px}
.msg{display:flex;align-items:flex-end;gap:8px;max-width:86%}
.msg.first{margin-top:8px}
.msg.visitor{align-self:flex-end;flex-direction:row-reverse}
.avatar{flex:none;display:flex;align-items:center;justify-content:center;width:28px;height:28px;border-radius:50%;background:#dde1e6;color:#3a3f45;font-weight:700;font-size:13px;object-fit:cover}
.avatar.gap{visibility:hidden}
.body{min-width:0}
.name{margin:0 0 2px 4px;font-size:12px;color:#5f6670}
.bubble{padding:8px 12px;border-radius:16px;background:var(--ab);color:var(--at);white-space:pre-wrap;overflow-wrap:anywhere}
.visitor .bubble{background:var(--vb);color:var(--vt)}
.sending .bubble,.failed .bubble{opacity:.65}
.file{display:block;color:inherit;text-decoration:underline}
.meta{margin:2px 4px 0;font-size:11px;color:#5f6670}
.visitor .meta{text-align:right}
.failed .meta{color:#b3261e}
.retry{padding:0;border:0;background:none;color:inherit;font-weight:700;text-decoration:underline}
.typing{min-height:20px;margin:0;padding:0 16px 4px;font-size:12px;font-style:italic;color:#5f6670}
.typing:empty{min-height:0;padding:0}
.away{margin:0;padding:10px 12px;border-top:1px solid #e6e8eb;font-size:13px;background:#f8f9fa}
.row{display:flex;gap:6px;margin-top:6px}
input,textarea{min-width:0;border:1px solid #b9bec4;border-radius:10px;background:#fff;padding:8px 10px}
input{flex:1}
.save{border:0;border-radius:10px;padding:0 14px;background:var(--bg);color:var(--fg);font-weight:600}
.compose{display:flex;align-items:flex-end;gap:8px;padding:10px 12px;border-top:1px solid #e6e8eb}
textarea{flex:1;resize:none;height:40px;max-height:140px;line-height:1.4}
.send{display:flex;align-items:center;justify-content:center;flex:none;width:40px;height:40px;border:0;border-radius:50%;background:var(--bg);color:var(--fg)}
@media (max-width:480px){
.panel{inset:0!important;width:auto;height:auto;max-width:none;max-height:none;border-radius:0;transform:none!important}
.open .launcher{display:none}
.tab .launcher{top:auto!important;bottom:0!important;left:auto!important;right:16px!important;transform:none!important;writing-mode:horizontal-tb!important;padding:10px 18px!important;border-radius:10px 10px 0 0!important}
input,textarea{font-size:16px}
}
`
