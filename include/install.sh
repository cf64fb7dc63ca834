#!/bin/sh
# Installs the C API of upstage into a prefix:
#
#   PREFIX/include/upstage.h, PREFIX/include/upstage.hpp
#   PREFIX/lib/libupstage.a
#   PREFIX/lib/libupstage.so.X.Y.Z, libupstage.so.SONAME -> it, libupstage.so -> SONAME
#   PREFIX/lib/pkgconfig/upstage.pc          (shared: pkg-config --cflags --libs upstage)
#   PREFIX/lib/pkgconfig/upstage-static.pc   (static: pkg-config --cflags --libs upstage-static)
#   PREFIX/lib/cmake/upstage/upstage-config.cmake, upstage-config-version.cmake
#                                            (find_package(upstage CONFIG): upstage::upstage,
#                                             upstage::upstage_static)
#
# Usage: include/install.sh PREFIX
#
# Builds the release library with cargo first (CARGO_TARGET_DIR is honoured). Set
# UPSTAGE_LIB_DIR to a directory that already holds libupstage.a and libupstage.so to skip
# the build (the tests do this to reuse their artifacts); PATCHELF to the patchelf command.
# Linux (ELF) only for now.
#
# The library in cargo's target directory has the SONAME libupstage.so (cargo cannot make the
# symbolic links a versioned name needs there); the installed copy gets its versioned SONAME
# from patchelf (Debian/Ubuntu: apt-get install patchelf), so that programs linked against
# it ask for libupstage.so.0.MINOR (before 1.0) or libupstage.so.MAJOR.
set -eu

if [ "$#" -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 PREFIX" >&2
    exit 2
fi
case "$1" in
    /*) prefix=$1 ;;
    *) prefix=$(pwd)/$1 ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
version=$(sed -n 's/^version *= *"\([^"]*\)".*/\1/p' "$root/Cargo.toml" | head -n 1)
major=${version%%.*}
rest=${version#*.}
minor=${rest%%.*}
# Rust semver: before 1.0 a minor release may break the ABI.
if [ "$major" = 0 ]; then soname=libupstage.so.0.$minor; else soname=libupstage.so.$major; fi
# `cargo rustc --lib --crate-type staticlib -- --print native-static-libs` on Linux.
native_static_libs="-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"

patchelf=${PATCHELF:-patchelf}
if ! command -v "$patchelf" >/dev/null 2>&1; then
    echo "$0: patchelf is needed to set the installed library's SONAME to $soname" >&2
    echo "    (Debian/Ubuntu: apt-get install patchelf)" >&2
    exit 1
fi

if [ -n "${UPSTAGE_LIB_DIR:-}" ]; then
    libdir=$UPSTAGE_LIB_DIR
else
    cargo build --release --lib --manifest-path "$root/Cargo.toml"
    libdir=${CARGO_TARGET_DIR:-$root/target}/release
fi
for f in libupstage.a libupstage.so; do
    if [ ! -f "$libdir/$f" ]; then
        echo "$0: $libdir/$f is missing" >&2
        exit 1
    fi
done

install -d "$prefix/include" "$prefix/lib/pkgconfig" "$prefix/lib/cmake/upstage"
install -m 644 "$root/include/upstage.h" "$root/include/upstage.hpp" "$prefix/include/"
install -m 644 "$libdir/libupstage.a" "$prefix/lib/libupstage.a"
install -m 755 "$libdir/libupstage.so" "$prefix/lib/libupstage.so.$version"
"$patchelf" --set-soname "$soname" "$prefix/lib/libupstage.so.$version"
ln -sf "libupstage.so.$version" "$prefix/lib/$soname"
ln -sf "$soname" "$prefix/lib/libupstage.so"

sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" \
    -e "s|@NATIVE_STATIC_LIBS@|$native_static_libs|g" \
    "$root/include/upstage.pc.in" > "$prefix/lib/pkgconfig/upstage.pc"
sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|$version|g" \
    -e "s|@NATIVE_STATIC_LIBS@|$native_static_libs|g" \
    -e "s|^Name: upstage|Name: upstage-static|" \
    -e "s|^Libs: .*|Libs: \${libdir}/libupstage.a $native_static_libs|" \
    -e "/^Libs.private:/d" \
    "$root/include/upstage.pc.in" > "$prefix/lib/pkgconfig/upstage-static.pc"

# The CMake package finds its prefix from its own location, so the tree stays relocatable.
# Its version file refuses a consumer of another pointer size: the ELF class of the library
# (byte 4: 1 = 32-bit, 2 = 64-bit).
case $(od -An -j4 -N1 -tu1 "$libdir/libupstage.so" | tr -d ' ') in
    1) sizeof_void_p=4 ;;
    2) sizeof_void_p=8 ;;
    *) echo "$0: $libdir/libupstage.so is not an ELF library" >&2; exit 1 ;;
esac
for f in upstage-config.cmake upstage-config-version.cmake; do
    sed -e "s|@VERSION@|$version|g" -e "s|@SONAME@|$soname|g" \
        -e "s|@SIZEOF_VOID_P@|$sizeof_void_p|g" \
        -e "s|@NATIVE_STATIC_LIBS@|$native_static_libs|g" \
        "$root/include/cmake/$f.in" > "$prefix/lib/cmake/upstage/$f"
done

echo "installed upstage $version into $prefix"
echo "  shared: cc app.c \$(pkg-config --cflags --libs upstage)"
echo "  static: cc app.c \$(pkg-config --cflags --libs upstage-static)"
echo "  CMake:  find_package(upstage CONFIG REQUIRED), target upstage::upstage or upstage::upstage_static"
echo "  (PKG_CONFIG_PATH=$prefix/lib/pkgconfig and CMAKE_PREFIX_PATH=$prefix if $prefix"
echo "   is not a system prefix)"
