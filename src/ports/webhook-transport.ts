export interface WebhookRequest {
  url: string
  headers: Record<string, string>
  body: string
  /** The whole exchange, name resolution and response body included. */
  timeoutMs: number
}

export interface WebhookResponse {
  status: number
  /** The raw `Retry-After` header, when the receiver sent one. */
  retryAfter?: string
  /** The start of the response body, for the attempt log. */
  bodyExcerpt: string
}

/**
 * How webhooks leave Parley. `checkTarget` refuses a URL Parley must not call (not http(s), or
 * resolving to a private address while those are not allowed) with an InvalidParameterError;
 * `send` checks again and connects to the address it checked, and rejects when no HTTP response
 * came back (refused target, connection error, timeout). Redirects are never followed.
 */
export interface WebhookTransport {
  checkTarget(url: string): Promise<void>
  send(request: WebhookRequest): Promise<WebhookResponse>
}
