import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import { AppError, type ErrorCode } from '../domain/errors.js'
import { MAX_ID_LENGTH } from './schemas.js'

/** The one place that decides the HTTP status of each error code. */
export const STATUS_BY_CODE: Record<ErrorCode, number> = {
  invalid_parameter: 400,
  missing_parameter: 400,
  out_of_range: 400,
  duplicate_parameter: 400,
  duplicate_request: 400,
  bad_request: 400,
  unauthorized: 401,
  permission_denied: 403,
  document_not_found: 404,
  method_not_allowed: 405,
  not_acceptable: 406,
  too_many_requests: 429,
}

interface ValidationIssue {
  keyword: string
  instancePath: string
  params: Record<string, unknown>
  message?: string
}

function fieldName(issue: ValidationIssue): string {
  return issue.instancePath.replace(/^\//, '').replace(/\//g, '.') || 'body'
}

/** Turns the first schema violation into Brevo's code and a message naming the field. */
export function validationError(issues: ValidationIssue[], body: unknown): AppError {
  const issue = issues[0]
  const field = fieldName(issue)
  switch (issue.keyword) {
    case 'required':
      return new AppError('missing_parameter', `${String(issue.params.missingProperty)} is missing`)
    case 'maxLength':
    case 'maximum':
      return new AppError('out_of_range', `${field} is too long: at most ${String(issue.params.limit)} characters`)
    case 'minLength':
      return new AppError('invalid_parameter', `${field} must not be empty`)
    case 'format':
      return new AppError('invalid_parameter', `${field} must be a valid ${String(issue.params.format)}`)
    case 'pattern':
      return new AppError('invalid_parameter', `${field} must not contain NUL characters or unpaired surrogates`)
    case 'type':
      if (field === 'body' && (body === undefined || body === null)) {
        return new AppError('missing_parameter', 'request body is missing')
      }
      if (field === 'body') return new AppError('invalid_parameter', 'request body must be a JSON object')
      return new AppError('invalid_parameter', `${field} must be of type ${String(issue.params.type)}`)
    default:
      return new AppError('invalid_parameter', `${field} ${issue.message ?? 'is invalid'}`)
  }
}

/** Errors Fastify raises before a handler runs, mapped onto Brevo's codes. */
function frameworkError(err: FastifyError): AppError | undefined {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('out_of_range', 'request body is too large')
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('invalid_parameter', 'Content-Type must be application/json')
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('bad_request', `request body is not valid JSON: ${err.message}`)
    case 'FST_ERR_BAD_URL':
      return new AppError('bad_request', 'the URL is not validly percent-encoded UTF-8')
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new AppError('out_of_range', `id is too long: at most ${MAX_ID_LENGTH} characters`)
  }
  if (err instanceof SyntaxError) return new AppError('bad_request', 'request body is not valid JSON')
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return new AppError('bad_request', err.message)
  return undefined
}

export function sendError(reply: FastifyReply, err: AppError): FastifyReply {
  return reply.code(STATUS_BY_CODE[err.code]).send({ code: err.code, message: err.message })
}

export function errorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (err instanceof AppError) return sendError(reply, err)
  if (err.validation) return sendError(reply, validationError(err.validation as ValidationIssue[], request.body))
  const mapped = frameworkError(err)
  if (mapped) return sendError(reply, mapped)
  request.log.error({ err }, 'unhandled error')
  // @NOTE Never a stack trace, SQL text or driver message in a 5xx body.
  return reply.code(500).send({ code: 'internal_error', message: 'An unexpected error occurred; it has been logged' })
}

/**
 * Node's HTTP parser rejects some requests (a header block over the size limit, a malformed request
 * line) before Fastify sees them; Fastify's default answer is not Brevo's `{code, message}`.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const error =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? new AppError('out_of_range', 'request headers are too large')
      : new AppError('bad_request', 'malformed HTTP request')
  const status = STATUS_BY_CODE[error.code]
  const body = JSON.stringify({ code: error.code, message: error.message })
  if (socket.writable) {
    const head = [
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
      `Content-Length: ${Buffer.byteLength(body)}`,
      'Content-Type: application/json; charset=utf-8',
      'Connection: close',
    ]
    socket.write(`${head.join('\r\n')}\r\n\r\n${body}`)
  }
  socket.destroy(err)
}
