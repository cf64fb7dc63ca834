package upstage

/*
#include <stdlib.h>
#include "upstage.h"
*/
import "C"

import (
	"encoding/json"
	"unsafe"
)

// Version returns the version of the C library, such as "0.1.0".
func Version() string {
	return C.GoString(C.upstage_version())
}

// ResolveModel maps a name to a model of the web demo's catalog as the original provider
// did: a known model is itself, the alias "solar-mini" is "upstage/solar-1-mini-chat-ja",
// anything else (including "") is the default, "solar-pro".
func ResolveModel(name string) string {
	if name == "" {
		return C.GoString(C.upstage_resolve_model(nil))
	}
	cname, err := cString("model", name)
	if err != nil {
		return C.GoString(C.upstage_resolve_model(nil)) // no catalog name holds a NUL
	}
	defer C.free(unsafe.Pointer(cname))
	return C.GoString(C.upstage_resolve_model(cname))
}

// Models returns the web demo's model catalog.
func Models() []string {
	n := C.upstage_model_count()
	models := make([]string, 0, int(n))
	for i := C.size_t(0); i < n; i++ {
		if m := C.upstage_model_at(i); m != nil {
			models = append(models, C.GoString(m))
		}
	}
	return models
}

// FormatPrompt flattens a conversation into the one prompt the web demo receives: a single
// message is its content alone; otherwise every message with non-blank content becomes a
// line "Role: content", followed by "\nAssistant:". An empty conversation is an
// ErrInvalidArgument.
func FormatPrompt(messages []Message) (string, error) {
	if messages == nil {
		messages = []Message{}
	}
	body, err := json.Marshal(messages)
	if err != nil {
		return "", newError(StatusInvalidArgument, err.Error())
	}
	cjson := C.CString(string(body))
	defer C.free(unsafe.Pointer(cjson))

	var n C.size_t
	var cerr C.upstage_error
	if rc := C.upstage_format_prompt(cjson, nil, 0, &n, &cerr); rc != C.UPSTAGE_OK {
		return "", errorFrom(rc, &cerr)
	}
	if n == 0 {
		return "", nil
	}
	buf := C.malloc(n + 1)
	if buf == nil {
		return "", newError(StatusLimit, "out of memory")
	}
	defer C.free(buf)
	if rc := C.upstage_format_prompt(cjson, (*C.char)(buf), n+1, &n, &cerr); rc != C.UPSTAGE_OK {
		return "", errorFrom(rc, &cerr)
	}
	return C.GoStringN((*C.char)(buf), C.int(n)), nil
}
