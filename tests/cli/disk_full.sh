#!/bin/sh
# disk_full.sh SIZE_KIB DIR COMMAND...: run COMMAND with a SIZE_KIB tmpfs mounted on DIR (made
# empty first), in a private mount namespace (unshare -m), so the command's writes into DIR run
# out of space for real (ENOSPC) and nothing outside the test sees the mount. Afterwards prints
# one line "left: NAME BYTES" per file left in DIR (recursively) and exits with COMMAND's exit
# code. Prints "disk_full.sh: SKIP: ..." and exits 1 when a tmpfs cannot be mounted (needs
# CAP_SYS_ADMIN, or user namespaces for unshare -rm); the ctest entries skip on that line.
set -u
if [ "${PHYSML_DISK_FULL_INSIDE:-}" != 1 ]; then
  export PHYSML_DISK_FULL_INSIDE=1
  if unshare -m true 2>/dev/null; then exec unshare -m "$0" "$@"; fi
  if unshare -rm true 2>/dev/null; then exec unshare -rm "$0" "$@"; fi
  echo "disk_full.sh: SKIP: cannot create a private mount namespace (unshare -m / -rm refused)"
  exit 1
fi
size=$1
dir=$2
shift 2
rm -rf "$dir" && mkdir -p "$dir" || exit 1
if ! mount -t tmpfs -o "size=${size}k" physml-disk-full "$dir" 2>/dev/null; then
  echo "disk_full.sh: SKIP: cannot mount a ${size} KiB tmpfs on $dir"
  exit 1
fi
"$@"
rc=$?
(cd "$dir" && find . -type f | sort | while read -r f; do echo "left: ${f#./} $(stat -c %s "$f")"; done)
echo "disk_full.sh: exit code $rc"
exit $rc
