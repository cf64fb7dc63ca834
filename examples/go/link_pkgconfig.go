//go:build !upstage_nopkgconfig

package upstage

// The library as installed by the crate's include/install.sh PREFIX: pkg-config finds
// PREFIX/lib/pkgconfig/upstage-static.pc (set PKG_CONFIG_PATH when PREFIX is not a system
// prefix) and gives the static library and the system libraries it needs, so that programs
// need no libupstage.so at run time. Build with -tags upstage_nopkgconfig to link a library
// of your choosing instead (link_manual.go).

// #cgo pkg-config: upstage-static
import "C"
