# Sourced by the install scripts: apt_get runs apt-get, waiting (up to 5 minutes, saying so)
# while another apt-get or dpkg holds its locks instead of failing at once: dpkg's lock through
# apt's own timeout, the package lists' lock (apt-get update) by trying again every 5 s.
APT_LOCKS=(/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock)

# True when another process holds one of apt's or dpkg's locks (fcntl locks, as apt takes them;
# bash has no way to test one, Python's fcntl does).
apt_lock_held() {
  "${PYTHON:-python3}" - "${APT_LOCKS[@]}" <<'PY' 2>/dev/null
import fcntl, os, sys
for path in sys.argv[1:]:
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        continue
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        sys.exit(0)
    finally:
        os.close(fd)
sys.exit(1)
PY
}

apt_get() {
  local tries=0 err said=0
  err=$(mktemp)
  if apt_lock_held; then
    echo "another apt-get or dpkg holds its lock: waiting (up to 5 minutes)" >&2
    said=1
  fi
  until apt-get -o DPkg::Lock::Timeout=300 "$@" 2>"$err"; do
    if ! grep -qi "lock" "$err" || [ "$tries" -ge 60 ]; then
      cat "$err" >&2
      rm -f "$err"
      return 1
    fi
    if [ "$said" -eq 0 ]; then
      echo "another apt-get or dpkg holds its lock: waiting (up to 5 minutes)" >&2
      said=1
    fi
    tries=$((tries + 1))
    sleep 5
  done
  rm -f "$err"
}
