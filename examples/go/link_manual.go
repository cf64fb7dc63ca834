//go:build upstage_nopkgconfig

package upstage

// With -tags upstage_nopkgconfig the package does not ask pkg-config: pass the library in
// CGO_LDFLAGS yourself, for example
//
//	CGO_LDFLAGS=/path/to/upstage/target/release/libupstage.a go build -tags upstage_nopkgconfig
//	CGO_LDFLAGS="-L/opt/upstage/lib -lupstage" go build -tags upstage_nopkgconfig
//
// The flags below are the system libraries the Rust static library needs (what
// `cargo rustc --lib --crate-type staticlib -- --print native-static-libs` prints). The Go
// tool puts CGO_LDFLAGS before them on the link line, the order a static archive needs.

/*
#cgo linux LDFLAGS: -lgcc_s -lutil -lrt -lpthread -lm -ldl
#cgo darwin LDFLAGS: -lSystem -lc -lm
*/
import "C"
