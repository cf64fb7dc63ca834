package upstage

// The header comes from the crate's include/ directory. The static library itself is not
// named here, because its directory depends on the Cargo profile: pass it through the
// environment, for example
//
//	CGO_LDFLAGS="$PWD/../../target/release/libupstage.a" go build ./...
//
// The flags below are the system libraries the Rust static library needs (what
// `cargo rustc --lib --crate-type staticlib -- --print native-static-libs` prints). The Go
// tool puts CGO_LDFLAGS before them on the link line, which is the order a static archive
// needs.

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo linux LDFLAGS: -lgcc_s -lutil -lrt -lpthread -lm -ldl
#cgo darwin LDFLAGS: -lSystem -lc -lm
#include "upstage.h"
*/
import "C"
