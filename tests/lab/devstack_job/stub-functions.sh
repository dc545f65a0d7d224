# What DevStack's functions give devstack/plugin.sh, for running the plugin's phases on the lab
# (tests/lab/test_devstack_job_lab.py) instead of inside stack.sh. They run as root, so `sudo`
# runs its command as it is.

function is_service_enabled {
    local service
    for service in "$@"; do
        [[ ",$ENABLED_SERVICES," == *",$service,"* ]] && return 0
    done
    return 1
}
function die { shift; echo "die: $*" >&2; exit 1; }
function warn { shift; echo "warn: $*" >&2; }
function echo_summary { echo "$*"; }
function is_fedora { return 1; }
function define_plugin { :; }
function enable_service { :; }
function sudo { "$@"; }
function trueorfalse {
    local default=$1 name=$2
    local value=${!name:-$default}
    case ${value,,} in
        1|yes|true|on) echo True ;;
        *) echo False ;;
    esac
}
function iniget {
    python3 -c 'import configparser, sys
p = configparser.RawConfigParser(strict=False)
p.read(sys.argv[1])
print(p.get(sys.argv[2], sys.argv[3], fallback=""))' "$1" "$2" "$3"
}
