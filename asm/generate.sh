#!/usr/bin/env bash
# Assembles the reference stubs of every architecture with the GNU assembler
# and writes one golden.txt per architecture: a line `case hexbytes` for each
# `.case.*` section. The encoder tests compare against these files.
#
#   asm/generate.sh            rewrite the golden files in place
#   asm/generate.sh --check    fail if the assembler disagrees with them
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
check=false
[ "${1:-}" = --check ] && check=true

# arch directory, assembler, its flags (- for none), objcopy, objdump
targets=(
  "x86_64 as --64 objcopy objdump"
  "x86 as --32 objcopy objdump"
  "aarch64 aarch64-linux-gnu-as - aarch64-linux-gnu-objcopy aarch64-linux-gnu-objdump"
  "arm arm-linux-gnueabihf-as -march=armv7-a arm-linux-gnueabihf-objcopy arm-linux-gnueabihf-objdump"
)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for target in "${targets[@]}"; do
  read -r arch assembler flags objcopy objdump <<<"$target"
  [ "$flags" = - ] && flags=
  skip=false
  for tool in "$assembler" "$objcopy" "$objdump"; do
    if ! command -v "$tool" >/dev/null; then
      if [ "${HCR_SKIP_CROSS:-0}" = 1 ]; then
        echo "asm/generate.sh: SKIPPING $arch: $tool not found (HCR_SKIP_CROSS=1)" >&2
        skip=true
        break
      fi
      echo "asm/generate.sh: $tool not found (needed for $arch; .ci/cross-setup installs it)" >&2
      exit 1
    fi
  done
  $skip && continue
  "$assembler" $flags -o "$work/$arch.o" "$here/$arch/stubs.S"
  # A relocation left in a case would mean bytes the assembler did not fix.
  if "$objdump" -r "$work/$arch.o" | grep -q '^[0-9a-f]\{8,\} R_'; then
    echo "asm/generate.sh: $arch/stubs.S leaves relocations; cases must not need any" >&2
    exit 1
  fi
  out="$work/$arch.golden"
  : >"$out"
  sections=$("$objdump" -h "$work/$arch.o" | awk '$2 ~ /^\.case\./ {print $2}')
  for section in $sections; do
    "$objcopy" -O binary --only-section="$section" "$work/$arch.o" "$work/bytes"
    printf '%s %s\n' "${section#.case.}" "$(od -An -tx1 -v "$work/bytes" | tr -d ' \n')" >>"$out"
  done
  if $check; then
    if ! diff -u "$here/$arch/golden.txt" "$out"; then
      echo "asm/generate.sh: $arch/golden.txt differs from what $assembler produces" >&2
      status=1
    fi
  else
    cp "$out" "$here/$arch/golden.txt"
  fi
done
exit $status
