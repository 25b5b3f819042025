# Shell helpers shared by /init and the test scripts of the usernet test guest.
# Sourced, never run. busybox ash.

# Prints one machine-readable result line on the console:
#   USERNET-STEP <name> PASS|FAIL [detail...]
# and records failures so /init can print the overall result.
step() {
  local name=$1 result=$2
  shift 2
  echo "USERNET-STEP $name $result${*:+ $*}"
  [ "$result" = PASS ] || echo "$name" >>/run/usernet/failed
  return 0
}

# True when $1 is a safe name: letters, digits, '_' and '-' only, not empty.
is_safe_name() {
  case "$1" in
    "" | *[!A-Za-z0-9_-]*) return 1 ;;
  esac
  return 0
}

# True when $1 is a safe argument value: no spaces, quotes, '$', '`', ';', '&', '|' etc.
is_safe_value() {
  case "$1" in
    *[!A-Za-z0-9._:/@%+=,-]*) return 1 ;;
  esac
  return 0
}

# Loads the lease /etc/udhcpc.script saved (USERNET_IP, USERNET_ROUTER, ...), if any.
load_lease() {
  [ -r /run/usernet/lease ] && . /run/usernet/lease
  return 0
}
