package fcevent

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

// HTTPResponse is what a function behind an HTTP trigger returns; FC turns it into the reply.
type HTTPResponse struct {
	StatusCode      int               `json:"statusCode"`
	Headers         map[string]string `json:"headers"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
	Body            string            `json:"body"`
}

// ErrorBody is the JSON body of every error the api answers: {"error":{"field","rule","message"}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail names the field and the rule it broke (see the Rule* constants), so clients can
// act on errors without parsing messages. Field is "" when no single field is at fault.
type ErrorDetail struct {
	Field   string `json:"field"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

const contentTypeJSON = "application/json; charset=utf-8"

// JSONResponse encodes v as the body. A value that cannot be encoded is a bug in the caller:
// it becomes a 500 error response rather than a half-written body.
func JSONResponse(status int, v any) HTTPResponse {
	b, err := json.Marshal(v)
	if err != nil {
		return ErrorResponse(http.StatusInternalServerError, "", "internal", "the response could not be encoded")
	}
	return HTTPResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": contentTypeJSON},
		Body:       string(b),
	}
}

// ErrorResponse is an error reply: {"error":{"field":...,"rule":...,"message":...}}.
func ErrorResponse(status int, field, rule, msg string) HTTPResponse {
	return JSONResponse(status, ErrorBody{Error: ErrorDetail{Field: field, Rule: rule, Message: msg}})
}

// WriteJSON is JSONResponse for net/http handlers.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(ErrorBody{Error: ErrorDetail{Rule: "internal", Message: "the response could not be encoded"}})
	}
	w.Header().Set("Content-Type", contentTypeJSON)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// WriteError is ErrorResponse for net/http handlers.
func WriteError(w http.ResponseWriter, status int, field, rule, msg string) {
	WriteJSON(w, status, ErrorBody{Error: ErrorDetail{Field: field, Rule: rule, Message: msg}})
}

// WriteFieldError answers 400 with the field and rule of a *FieldError found in err's chain,
// and 500 with a generic message otherwise (internal errors are logged, not shown).
func WriteFieldError(w http.ResponseWriter, err error) {
	var fe *FieldError
	if errors.As(err, &fe) {
		WriteError(w, http.StatusBadRequest, fe.Field, fe.Rule, fe.Message)
		return
	}
	WriteError(w, http.StatusInternalServerError, "", "internal", "internal error")
}
