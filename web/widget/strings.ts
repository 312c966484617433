// What the widget says, per `BrevoConversationsSetup.language` (else the page's, else the browser's).
// `{n}`, `{name}` and `{email}` are filled in by `translate`.

const en = {
  lang: 'en',
  open: 'Open chat',
  close: 'Close chat',
  unread: '{n} unread',
  chat: 'Chat',
  online: 'Online',
  away: 'Away',
  connecting: 'Connecting…',
  offline: "You're offline. Messages will be sent when you're back.",
  messages: 'Messages',
  write: 'Write a message…',
  send: 'Send',
  sending: 'Sending…',
  failed: 'Not sent.',
  retry: 'Retry',
  edited: 'edited',
  typing: '{name} is typing…',
  someone: 'Someone',
  leaveEmail: "We're away right now — leave your e-mail and we'll reply",
  email: 'Your e-mail',
  save: 'Save',
  thanks: "Thanks! We'll reply to {email}.",
  tooFast: "You're sending messages too quickly — try again in {n} s",
  refused: "We couldn't confirm who you are, so this chat can't be shown. Please sign in again or reload the page.",
  unavailable: 'This chat is not available on this page.',
}

export type Strings = typeof en

const fr: Strings = {
  lang: 'fr',
  open: 'Ouvrir le chat',
  close: 'Fermer le chat',
  unread: '{n} non lu(s)',
  chat: 'Chat',
  online: 'En ligne',
  away: 'Absent',
  connecting: 'Connexion…',
  offline: 'Vous êtes hors ligne. Vos messages partiront dès votre retour.',
  messages: 'Messages',
  write: 'Écrivez un message…',
  send: 'Envoyer',
  sending: 'Envoi…',
  failed: 'Non envoyé.',
  retry: 'Réessayer',
  edited: 'modifié',
  typing: '{name} écrit…',
  someone: "Quelqu'un",
  leaveEmail: 'Nous sommes absents — laissez votre e-mail et nous vous répondrons',
  email: 'Votre e-mail',
  save: 'Enregistrer',
  thanks: 'Merci ! Nous répondrons à {email}.',
  tooFast: 'Vous envoyez des messages trop vite — réessayez dans {n} s',
  refused: "Nous n'avons pas pu vous identifier : ce chat ne peut pas s'afficher. Reconnectez-vous ou rechargez la page.",
  unavailable: "Ce chat n'est pas disponible sur cette page.",
}

// @NOTE Each further language costs about 0.4 KB of the 15 KB budget (gzipped).
const TABLES: Record<string, Strings> = { en, fr }

export type Translate = (key: keyof Strings, values?: Record<string, string | number>) => string

/** The table for `language` (`fr`, `fr-CA`, …); English when there is none. */
export function translator(language: string): Translate {
  const table = TABLES[language.slice(0, 2).toLowerCase()] ?? en
  return (key, values) => table[key].replace(/\{(\w+)\}/g, (_, name: string) => String(values?.[name] ?? ''))
}
