// The widget's side of src/realtime/protocol.ts. Only types cross over (`import type` vanishes
// from the bundle, so TypeBox never reaches the browser); the few runtime constants the widget
// needs are repeated here, and test/widget-bundle.test.ts fails when they drift apart.
export type {
  AgentCard,
  ErrorFrame,
  MessageEventFrame,
  VisitorClientFrame,
  VisitorServerFrame,
  WelcomeFrame,
  WidgetMessage,
} from '../../src/realtime/protocol.js'

export const PROTOCOL_VERSION = 1

/** The widget's own `ping` interval (browsers cannot see the server's WebSocket pings). */
export const WIDGET_PING_MS = 25_000

/** Close codes after which reconnecting cannot help: binding refused, origin refused, unknown widget. */
export const FINAL_CLOSE_CODES = [4401, 4403, 4404]
