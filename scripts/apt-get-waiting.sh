# Sourced by the install scripts: apt_get runs apt-get, waiting (up to 5 minutes, saying so)
# while another apt-get or dpkg holds its locks instead of failing at once: dpkg's lock through
# apt's own timeout, the package lists' lock (apt-get update) by trying again every 5 s.
apt_get() {
  local tries=0 err
  err=$(mktemp)
  until apt-get -o DPkg::Lock::Timeout=300 "$@" 2>"$err"; do
    if ! grep -qi "lock" "$err" || [ "$tries" -ge 60 ]; then
      cat "$err" >&2
      rm -f "$err"
      return 1
    fi
    if [ "$tries" -eq 0 ]; then
      echo "another apt-get or dpkg holds its lock: waiting (up to 5 minutes)" >&2
    fi
    tries=$((tries + 1))
    sleep 5
  done
  rm -f "$err"
}
