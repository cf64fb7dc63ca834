package upstage

/*
#include "upstage.h"
*/
import "C"

import (
	"strconv"
	"time"
)

// Status is a status code of the C library: OK and Done, or the kind of an error.
type Status int32

// The status codes of the C library (upstage.h), one per kind of error.
const (
	StatusOK              Status = C.UPSTAGE_OK                   // success, a token was produced
	StatusDone            Status = C.UPSTAGE_DONE                 // the stream finished normally
	StatusNullArgument    Status = C.UPSTAGE_ERR_NULL_ARGUMENT    // a required pointer was NULL
	StatusInvalidArgument Status = C.UPSTAGE_ERR_INVALID_ARGUMENT // bad UTF-8, bad JSON, empty messages, bad option value, missing key
	StatusConnect         Status = C.UPSTAGE_ERR_CONNECT          // DNS, TCP, TLS, proxy
	StatusTimeout         Status = C.UPSTAGE_ERR_TIMEOUT          // connect, headers, idle or total timeout
	StatusHTTP            Status = C.UPSTAGE_ERR_HTTP             // a non-2xx HTTP status
	StatusAPI             Status = C.UPSTAGE_ERR_API              // an error reported inside a 200 stream
	StatusProtocol        Status = C.UPSTAGE_ERR_PROTOCOL         // malformed SSE or JSON, unexpected content type
	StatusTruncated       Status = C.UPSTAGE_ERR_TRUNCATED        // the stream ended without [DONE] and without a finish reason
	StatusLimit           Status = C.UPSTAGE_ERR_LIMIT            // a line, event or body exceeded its limit
	StatusCancelled       Status = C.UPSTAGE_ERR_CANCELLED        // the stream was cancelled
	StatusIO              Status = C.UPSTAGE_ERR_IO               // another I/O failure mid-stream
	StatusPanic           Status = C.UPSTAGE_ERR_PANIC            // a bug inside the library, caught at the boundary
)

// String returns the library's name for the status: "ok", "done", "timeout", "http", ...,
// or "unknown".
func (s Status) String() string {
	return C.GoString(C.upstage_status_name(C.int32_t(s)))
}

// Error is every error this package returns. Compare kinds with errors.Is and the sentinel
// values (errors.Is(err, upstage.ErrTimeout)); read the details with errors.As.
type Error struct {
	// Status is the kind of error, one of the negative Status values.
	Status Status
	// HTTPStatus is the HTTP status code when there was one (ErrHTTP), else 0.
	HTTPStatus int
	// Message is the library's message; for HTTP and API errors it carries the server's own
	// words. It never contains the API key.
	Message string

	// RequestID is the response's x-request-id (or the stream's id), when there was one.
	RequestID string
	// RetryAfter is the wait the server asked for (retry-after-ms / retry-after), or -1.
	RetryAfter time.Duration
	// APIType, Code and Param are the server's error type, code (a number as text) and
	// param, when it sent them.
	APIType string
	Code    string
	Param   string
	// TimeoutPhase says which timeout expired for ErrTimeout: "connect", "headers", "idle"
	// or "total"; "" otherwise.
	TimeoutPhase string
	// Attempts is how many HTTP attempts were made (1 without retries; 0 when unknown).
	Attempts int
	// Headers are the headers of the HTTP response behind the error (nil when none was
	// received); RateLimit is what their x-ratelimit-* fields said (nil when nothing).
	Headers   Headers
	RateLimit *RateLimit

	cause error // the context's error when ctx ended the stream
}

// Sentinel errors, one per kind, for errors.Is. They match any *Error of the same Status.
var (
	ErrNullArgument    = &Error{Status: StatusNullArgument}
	ErrInvalidArgument = &Error{Status: StatusInvalidArgument}
	ErrConnect         = &Error{Status: StatusConnect}
	ErrTimeout         = &Error{Status: StatusTimeout}
	ErrHTTP            = &Error{Status: StatusHTTP}
	ErrAPI             = &Error{Status: StatusAPI}
	ErrProtocol        = &Error{Status: StatusProtocol}
	ErrTruncated       = &Error{Status: StatusTruncated}
	ErrLimit           = &Error{Status: StatusLimit}
	ErrCancelled       = &Error{Status: StatusCancelled}
	ErrIO              = &Error{Status: StatusIO}
	ErrPanic           = &Error{Status: StatusPanic}
)

// Error formats the error as "upstage: <status name>: <message>", for example
// "upstage: http: HTTP 401: Invalid API key".
func (e *Error) Error() string {
	message := e.Message
	if message == "" && e.HTTPStatus != 0 {
		message = "HTTP " + strconv.Itoa(e.HTTPStatus)
	}
	if message == "" {
		return "upstage: " + e.Status.String()
	}
	return "upstage: " + e.Status.String() + ": " + message
}

// Is reports whether target is an *Error of the same kind (Status), so that
// errors.Is(err, upstage.ErrTimeout) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t != nil && t.Status == e.Status
}

// Unwrap returns context.Canceled or context.DeadlineExceeded when the stream was cancelled
// because its context ended, so errors.Is(err, context.DeadlineExceeded) works too.
func (e *Error) Unwrap() error {
	return e.cause
}

// errorFrom converts a status and the error struct the C call filled in.
func errorFrom(status C.upstage_status, cerr *C.upstage_error) *Error {
	e := &Error{Status: Status(status), RetryAfter: -1}
	if cerr != nil {
		if cerr.status != 0 {
			e.Status = Status(cerr.status)
		}
		e.HTTPStatus = int(cerr.http_status)
		e.Message = C.GoString(&cerr.message[0])
	}
	return e
}

// newError makes an error of the given kind with a message of our own.
func newError(status Status, message string) *Error {
	return &Error{Status: status, Message: message}
}

// cancelled is the error for a stream stopped because ctx ended.
func cancelled(cause error) *Error {
	return &Error{Status: StatusCancelled, Message: cause.Error(), cause: cause}
}
