package upstage

// upstage.h is a copy of the crate's include/upstage.h kept inside the module, so that a
// copy of the module (the module cache, a vendor directory) builds on its own. The crate's
// build script writes it; a test fails when it differs from include/upstage.h.
//
// -I${SRCDIR} puts this directory before the include directory of pkg-config, so that the
// header always comes from the module. How the library is linked is chosen by a build tag:
//
//   - default (link_pkgconfig.go): `pkg-config upstage-static`, the file include/install.sh
//     installs: the static library and the system libraries it needs.
//   - -tags upstage_nopkgconfig (link_manual.go): only the system libraries; name the library
//     yourself in CGO_LDFLAGS, e.g. CGO_LDFLAGS=/path/to/libupstage.a.

/*
#cgo CFLAGS: -I${SRCDIR}
#include "upstage.h"
*/
import "C"
