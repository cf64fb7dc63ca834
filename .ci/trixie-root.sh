#!/usr/bin/env bash
# Compiles and tests what this machine's Debian (bookworm) cannot: the Swift package
# (examples/swift, Swift 6 from Debian trixie's `swiftlang`: build and tests, statically and
# through pkg-config, and the README's program against loopback servers) and the Go module
# with a current Go (trixie's `golang-go`, 1.24: tests/go_module.rs). Both run in a Debian
# trixie root made with debootstrap.
#
#   .ci/trixie-root.sh [LIBUPSTAGE_A]
#
# LIBUPSTAGE_A: the static library to link (default: the newest of target/debug and
# target/release, `deps` included). Needs root, debootstrap and the network to the Debian
# mirror apt already uses here.
#
# Idempotent: the root is made once and reused (a marker file says it is complete; a root
# left half-made is made again). It lives outside the checkout, in UPSTAGE_TRIXIE_ROOT
# (default /var/tmp/upstage-trixie-root), so it is never committed. While the script runs,
# proc, /dev and the checkout are mounted inside the root (the checkout at its own path, so
# that paths mean the same inside and out); the mounts are undone on every exit.
#
# Environment:
#   UPSTAGE_TRIXIE_ROOT    where the root lives
#   UPSTAGE_DEBIAN_MIRROR  the mirror (default: the first Debian URI in /etc/apt/sources*)
set -euo pipefail

checkout=$(cd "$(dirname "$0")/.." && pwd -P)
root=${UPSTAGE_TRIXIE_ROOT:-/var/tmp/upstage-trixie-root}
target=${CARGO_TARGET_DIR:-$checkout/target}
mkdir -p "$target"
target=$(cd "$target" && pwd -P)
packages="swiftlang libc6-dev gcc g++ libstdc++-14-dev golang-go pkgconf"
marker="$root/.upstage-root-ready"

log() { printf '==> %s\n' "$*" >&2; }

if [ "$(id -u)" != 0 ]; then
    echo "$0: must run as root (debootstrap, chroot, mount)" >&2
    exit 1
fi

# The Debian mirror of this machine's apt sources (deb822 `URIs:` or one-line `deb URL`).
debian_mirror() {
    if [ -n "${UPSTAGE_DEBIAN_MIRROR:-}" ]; then
        echo "$UPSTAGE_DEBIAN_MIRROR"
        return
    fi
    local uri
    uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
            /etc/apt/sources.list.d/*.list 2>/dev/null |
        sed -n -e 's/^URIs:[[:space:]]*//p' -e 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?//p' |
        tr ' ' '\n' | grep -E '^https?://.*/debian/?$' | head -n 1 || true)
    echo "${uri:-http://deb.debian.org/debian}"
}

# Mount points under the root that are mounted now (deepest first).
mounts_under_root() {
    findmnt -rn -o TARGET | awk -v r="$root" 'index($0, r "/") == 1' | sort -r
}

# One run at a time per root: another run's cleanup would unmount /proc and /dev under us.
mkdir -p "$(dirname "$root")"
exec 9>"$root.lock"
if ! flock -n 9; then
    log "waiting for another run of $0 on $root"
    flock 9
fi

mounted=()
cleanup() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount -R "${mounted[i]}" 2>/dev/null || umount -R -l "${mounted[i]}" || true
    done
    mounted=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mount_into_root() { # mount_into_root KIND SOURCE DIR
    local dir="$root$3"
    mkdir -p "$dir"
    if mountpoint -q "$dir"; then
        return # left by a run that was killed too hard to clean up: reuse it
    fi
    case "$1" in
        proc) mount -t proc proc "$dir" ;;
        rbind) mount --rbind "$2" "$dir" && mount --make-rslave "$dir" ;;
        bind) mount --bind "$2" "$dir" ;;
    esac
    mounted+=("$dir")
}

in_root() { # in_root COMMAND...: runs in the root with a clean environment
    chroot "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root \
        LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}

make_root() {
    if [ -f "$marker" ] && [ "$(cat "$marker")" = "$packages" ]; then
        return
    fi
    if [ -e "$root" ]; then
        if [ -n "$(mounts_under_root)" ]; then
            echo "$0: $root is half-made and has mounts inside; unmount them first:" >&2
            mounts_under_root >&2
            exit 1
        fi
        if [ -x "$root/usr/bin/apt-get" ] && [ -f "$root/.upstage-debootstrap-done" ]; then
            log "reusing the bootstrapped root in $root"
        else
            log "removing the half-made root in $root"
            rm -rf --one-file-system "$root"
        fi
    fi
    if [ ! -f "$root/.upstage-debootstrap-done" ]; then
        command -v debootstrap >/dev/null || {
            echo "$0: debootstrap is missing (apt-get install debootstrap)" >&2
            exit 1
        }
        local mirror
        mirror=$(debian_mirror)
        log "debootstrap trixie from $mirror into $root"
        debootstrap --variant=minbase trixie "$root" "$mirror"
        touch "$root/.upstage-debootstrap-done"
    fi
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    mount_into_root proc proc /proc
    mount_into_root rbind /dev /dev
    log "installing $packages"
    in_root apt-get update -q
    # shellcheck disable=SC2086
    in_root apt-get install -y -q --no-install-recommends $packages
    in_root apt-get clean
    echo "$packages" > "$marker"
}

static_library() {
    if [ "$#" -ge 1 ]; then
        echo "$1"
        return
    fi
    local newest="" candidate
    for candidate in "$target"/debug/libupstage.a "$target"/debug/deps/libupstage.a \
        "$target"/release/libupstage.a "$target"/release/deps/libupstage.a; do
        if [ -f "$candidate" ] && { [ -z "$newest" ] || [ "$candidate" -nt "$newest" ]; }; then
            newest=$candidate
        fi
    done
    echo "$newest"
}

lib=$(static_library "$@")
if [ -z "$lib" ] || [ ! -f "$lib" ]; then
    echo "$0: no libupstage.a (run cargo build first, or pass its path)" >&2
    exit 1
fi
lib=$(cd "$(dirname "$lib")" && pwd -P)/$(basename "$lib")

make_root
mount_into_root proc proc /proc
mount_into_root rbind /dev /dev
mount_into_root bind "$checkout" "$checkout"
case "$target/" in
    "$checkout"/*) ;;
    *) mount_into_root bind "$target" "$target" ;;
esac

# A directory that holds only the static library, so that the linker cannot pick a
# libupstage.so instead.
static_dir="$target/trixie/static-lib"
rm -rf "$static_dir"
mkdir -p "$static_dir"
cp "$lib" "$static_dir/libupstage.a"

swift_in_root() { # swift_in_root SCRATCH ENV... -- SWIFT-ARGS...
    local scratch=$1
    shift
    local env=()
    while [ "$1" != -- ]; do
        env+=("$1")
        shift
    done
    shift
    in_root env "${env[@]}" sh -c 'cd "$1" && shift && exec swift "$@"' sh \
        "$checkout/examples/swift" "$@" --scratch-path "$scratch"
}

log "$(in_root swift --version 2>&1 | head -n 1)"
# Static: the README's `-Xlinker -L<dir holding only libupstage.a>`, every Swift warning an
# error (the package is in the Swift 6 language mode).
static_scratch="$target/trixie/swift-static"
for step in build test; do
    log "swift $step, static ($lib)"
    swift_in_root "$static_scratch" -- "$step" -Xlinker "-L$static_dir" \
        -Xswiftc -warnings-as-errors
done
log "upstage-chat (static) without arguments: usage, exit 2"
set +e
in_root "$static_scratch/debug/upstage-chat" >/dev/null 2>&1
code=$?
set -e
if [ "$code" != 2 ]; then
    echo "$0: upstage-chat without arguments exited with $code, not 2" >&2
    exit 1
fi

# Through pkg-config: the manifest's `pkgConfig: "upstage"` against an install made by
# include/install.sh (the shared library next to the static one), as the README says.
lib_dir=$(dirname "$lib")
if [ -f "$lib_dir/libupstage.so" ]; then
    prefix="$target/trixie/prefix"
    rm -rf "$prefix"
    UPSTAGE_LIB_DIR=$lib_dir sh "$checkout/include/install.sh" "$prefix" >/dev/null
    pc_scratch="$target/trixie/swift-pkg-config"
    log "swift build through pkg-config ($prefix)"
    swift_in_root "$pc_scratch" "PKG_CONFIG_PATH=$prefix/lib/pkgconfig" -- build
    log "upstage-chat (pkg-config, shared) against a closed port: error[connect], exit 1"
    set +e
    out=$(in_root env "LD_LIBRARY_PATH=$prefix/lib" "$pc_scratch/debug/upstage-chat" \
        http://127.0.0.1:9/v1 solar-pro4 hi 2>&1)
    code=$?
    set -e
    case "$code:$out" in
        "1:error[connect]: "*) ;;
        *)
            echo "$0: upstage-chat (pkg-config) gave exit $code: $out" >&2
            exit 1
            ;;
    esac
else
    log "no libupstage.so beside $lib: the pkg-config build is skipped"
fi

# The README's package and program (`ask`), in a package of their own that depends on
# examples/swift by path, run by tests/swift_package.rs against its loopback servers.
readme_swift_block() { # readme_swift_block PREFIX: the ```swift block whose first line starts so
    awk -v prefix="$1" '
        /^```swift$/ { inside = 1; first = 1; text = ""; next }
        inside && /^```$/ { if (keep) printf "%s", text; inside = 0; keep = 0; next }
        inside { if (first) { keep = index($0, prefix) == 1; first = 0 } text = text $0 "\n" }
    ' "$checkout/examples/swift/README.md"
}
consumer="$target/trixie/swift-ask"
rm -rf "$consumer/Sources"
mkdir -p "$consumer/Sources/ask"
readme_swift_block "// swift-tools-version" |
    sed "s|/path/to/upstage/examples/swift|$checkout/examples/swift|" > "$consumer/Package.swift"
readme_swift_block "// Sources/ask/main.swift" > "$consumer/Sources/ask/main.swift"
for f in "$consumer/Package.swift" "$consumer/Sources/ask/main.swift"; do
    if [ ! -s "$f" ]; then
        echo "$0: examples/swift/README.md has no block for $f" >&2
        exit 1
    fi
done
log "swift build of the README's program (static)"
in_root sh -c 'cd "$1" && shift && exec swift "$@"' sh "$consumer" build \
    -Xlinker "-L$static_dir" -Xswiftc -warnings-as-errors
ask="$target/trixie/ask"
printf '#!/bin/sh\nexec chroot "%s" "%s" "$@"\n' "$root" "$consumer/.build/debug/ask" > "$ask"
chmod +x "$ask"
(cd "$checkout" && UPSTAGE_SWIFT_ASK="$ask" UPSTAGE_REQUIRE_SWIFT=1 \
    cargo test --test swift_package)

# The Go module test of the checkout, run by cargo on this machine with trixie's Go: a
# wrapper runs `go` inside the root, in the same directory and environment (the test server
# stays on this machine's loopback, which the root shares).
wrapper="$target/trixie/go"
cat > "$wrapper" <<EOF
#!/bin/sh
exec chroot "$root" /bin/sh -c 'cd "\$0" && exec /usr/bin/go "\$@"' "\$PWD" "\$@"
EOF
chmod +x "$wrapper"
log "$("$wrapper" version)"
(cd "$checkout" && UPSTAGE_GO="$wrapper" UPSTAGE_REQUIRE_GO=1 cargo test --test go_module)
log "trixie root checks passed"
