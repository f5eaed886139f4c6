# Sourced by windows-wine.sh and c-wine.sh: the Windows toolchain they share. Installs
# Debian's rustc-web (+ rust-src for -Zbuild-std), mingw-w64 (and g++ for C++, which c-wine.sh
# asks for with WINE_NEED_CXX=1) and Wine 8, names Debian's toolchain explicitly (rustup's
# proxies come first in PATH), and prepares a Wine prefix with a bcryptprimitives.dll shim.
# Sets RUSTC, RUSTDOC, RUSTC_BOOTSTRAP, WINEPREFIX, WINEDEBUG, WINEDLLOVERRIDES (exported) and
# CARGO_DEB, WINE.
export DEBIAN_FRONTEND=noninteractive
need=(rustc-web cargo-web rust-web-src gcc-mingw-w64-x86-64 wine64)
if [ "${WINE_NEED_CXX:-0}" = 1 ]; then
  need+=(g++-mingw-w64-x86-64)
fi
if ! dpkg -s "${need[@]}" >/dev/null 2>&1; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
CARGO_DEB=/usr/bin/cargo
export WINEPREFIX=${WINEPREFIX:-/tmp/wineprefix-ci} WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
WINE=/usr/lib/wine/wine64 # no /usr/bin/wine without the 'wine' package; this binary is enough
if [ ! -f "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" ]; then
  "$WINE" wineboot --init
  /usr/lib/wine/wineserver -w
  # Wine 8.0 lacks bcryptprimitives.dll, which Rust std (>=1.78) imports for ProcessPrng: supply a shim.
  d=$(mktemp -d)
  cat > "$d/bcp.c" <<'C'
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID, ULONG); /* RtlGenRandom */
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE p, SIZE_T n) {
  while (n) { ULONG k = n > 0x10000000 ? 0x10000000 : (ULONG)n;
    if (!SystemFunction036(p, k)) return FALSE; p += k; n -= k; }
  return TRUE; }
C
  x86_64-w64-mingw32-gcc -O2 -shared -s -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" "$d/bcp.c" -ladvapi32
  rm -rf "$d"
fi
