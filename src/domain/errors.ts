/**
 * The error catalogue. Codes are Brevo's wire codes; the HTTP status for each is decided in
 * `http/errors.ts`, never here.
 */
export type ErrorCode =
  | 'invalid_parameter'
  | 'missing_parameter'
  | 'out_of_range'
  | 'document_not_found'
  | 'duplicate_parameter'
  | 'duplicate_request'
  | 'unauthorized'
  | 'permission_denied'
  | 'method_not_allowed'
  | 'not_acceptable'
  | 'bad_request'
  | 'too_many_requests'

export class AppError extends Error {
  name = 'AppError'
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message)
  }
}

export class InvalidParameterError extends AppError {
  name = 'InvalidParameterError'
  constructor(message: string) {
    super('invalid_parameter', message)
  }
}

export class MissingParameterError extends AppError {
  name = 'MissingParameterError'
  constructor(message: string) {
    super('missing_parameter', message)
  }
}

export class OutOfRangeError extends AppError {
  name = 'OutOfRangeError'
  constructor(message: string) {
    super('out_of_range', message)
  }
}

export class NotFoundError extends AppError {
  name = 'NotFoundError'
  constructor(message = 'Document not found') {
    super('document_not_found', message)
  }
}

export class DuplicateRequestError extends AppError {
  name = 'DuplicateRequestError'
  constructor(message: string) {
    super('duplicate_request', message)
  }
}

export class DuplicateParameterError extends AppError {
  name = 'DuplicateParameterError'
  constructor(message: string) {
    super('duplicate_parameter', message)
  }
}

export class UnauthorizedError extends AppError {
  name = 'UnauthorizedError'
  constructor(message: string) {
    super('unauthorized', message)
  }
}

/** Raised by storage adapters for a unique-constraint violation, whichever driver reported it. */
export class DuplicateError extends Error {
  name = 'DuplicateError'
}
