package upstage

/*
#include <stdlib.h>
#include "upstage.h"
*/
import "C"

import (
	"encoding/json"
	"net/url"
	"sort"
	"time"
	"unsafe"
)

// Message is one chat message.
type Message struct {
	// Role is "system", "user", "assistant", "tool", or any role the server accepts.
	Role string `json:"role"`
	// Content is the message text.
	Content string `json:"content"`
}

// System returns a system message.
func System(content string) Message { return Message{Role: "system", Content: content} }

// User returns a user message.
func User(content string) Message { return Message{Role: "user", Content: content} }

// Assistant returns an assistant message.
func Assistant(content string) Message { return Message{Role: "assistant", Content: content} }

// Request is one chat request.
type Request struct {
	// Model is sent as given. Empty: the flavor's default (the UPSTAGE_MODEL environment
	// variable, else solar-pro4; with WebDemo, ResolveModel's rules apply).
	Model string
	// Messages is the conversation, oldest first. It must not be empty.
	Messages []Message
	// Params are extra fields of the request body, each encoded with encoding/json:
	// {"temperature": 0.2, "max_tokens": 64, "stop": []string{"\n"}}. A json.RawMessage is
	// sent as it is.
	Params map[string]any

	// Headers are sent with this request only; they replace the client's of the same name.
	Headers map[string]string
	// Query parameters are added to this request's URL, after the client's.
	Query url.Values
	// ConnectTimeout, HeadersTimeout, IdleTimeout and TotalTimeout replace the client's for
	// this request (0: the client's; NoLimit: none).
	ConnectTimeout time.Duration
	HeadersTimeout time.Duration
	IdleTimeout    time.Duration
	TotalTimeout   time.Duration
	// MaxRetries replaces the client's retry count for this request (0: the client's;
	// NoRetries: none).
	MaxRetries int
	// Record, when not empty, is a file that receives the response as it is read (status,
	// headers without credentials or cookies, body as received); Client.Replay plays it back.
	Record string
}

// build makes the C request; free it with C.upstage_request_free.
func (r *Request) build() (*C.upstage_request, error) {
	var model *C.char
	if r.Model != "" {
		var err error
		if model, err = cString("model", r.Model); err != nil {
			return nil, err
		}
		defer C.free(unsafe.Pointer(model))
	}
	req := C.upstage_request_new(model)
	if req == nil {
		return nil, newError(StatusInvalidArgument, "invalid model name")
	}
	if err := r.fill(req); err != nil {
		C.upstage_request_free(req)
		return nil, err
	}
	return req, nil
}

func (r *Request) fill(req *C.upstage_request) error {
	for i := range r.Messages {
		m := &r.Messages[i]
		role, err := cString("message role", m.Role)
		if err != nil {
			return err
		}
		content, err := cString("message content", m.Content)
		if err != nil {
			C.free(unsafe.Pointer(role))
			return err
		}
		rc := C.upstage_request_add_message(req, role, content)
		C.free(unsafe.Pointer(role))
		C.free(unsafe.Pointer(content))
		if rc != C.UPSTAGE_OK {
			return newError(Status(rc), "invalid message")
		}
	}
	if err := r.fillSurface(req); err != nil {
		return err
	}
	names := make([]string, 0, len(r.Params))
	for name := range r.Params {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		value, err := json.Marshal(r.Params[name])
		if err != nil {
			return newError(StatusInvalidArgument, "parameter "+name+": "+err.Error())
		}
		cname, err := cString("parameter name", name)
		if err != nil {
			return err
		}
		cvalue := C.CString(string(value)) // JSON text never holds a raw NUL
		rc := C.upstage_request_set_param(req, cname, cvalue)
		C.free(unsafe.Pointer(cname))
		C.free(unsafe.Pointer(cvalue))
		if rc != C.UPSTAGE_OK {
			return newError(Status(rc), "invalid parameter "+name)
		}
	}
	return nil
}
