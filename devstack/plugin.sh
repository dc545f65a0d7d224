#!/bin/bash
#
# plugin.sh - stackdrill's DevStack plugin.
#
# stack install:     stackdrill's harness in its own virtualenv (scripts/setup --client: uv and
#                    the locked Python environment; none of the embedded lab's packages, so no
#                    browser, no tgt beside DevStack's LIO target, no second MariaDB, RabbitMQ or
#                    memcached), and the canary guest's kernel and busybox packages
#                    (scripts/fetch-guest-packages, downloaded, not installed)
# stack extra:       the drills' SSH key, allowed to log in to this node as STACKDRILL_SSH_USER,
#                    this node's host key, and the inventory of this node
#                    (`stackdrill inventory devstack`, from ENABLED_SERVICES)
# stack test-config: the drills STACKDRILL_RUN_TAGS selects, only if it is set
# unstack:           nothing: stackdrill runs no service
# clean:             the key's login, the key, known_hosts and the inventory; the reports, the
#                    drill history and the undo journal stay in STACKDRILL_DATA_DIR
#
# DevStack sources this file as `plugin.sh <mode> [phase]` after devstack/settings.

_XTRACE_STACKDRILL=$(set +o | grep xtrace)
set -o xtrace


function install_stackdrill {
    mkdir -p "$STACKDRILL_DATA_DIR"
    UV_PROJECT_ENVIRONMENT=$STACKDRILL_VENV STACKDRILL_UV_DIR=$STACKDRILL_DATA_DIR/uv \
        "$STACKDRILL_DIR/scripts/setup" --client
    # the canaries' heartbeat guest is built from the distribution's kernel and busybox
    # packages, downloaded (not installed); without them the canaries boot a blank image
    if ! sudo "$STACKDRILL_DIR/scripts/fetch-guest-packages"; then
        warn $LINENO "stackdrill: no guest packages; the canaries boot a blank image"
    fi
}

# The node's address for the drills: DevStack's own HOST_IP (HOST_IPV6 on an IPv6-only node).
function _stackdrill_address {
    if [[ -n "${HOST_IP:-}" ]]; then
        echo "$HOST_IP"
    elif [[ -n "${HOST_IPV6:-}" ]]; then
        echo "$HOST_IPV6"
    else
        echo 127.0.0.1
    fi
}

# The name Nova gives this node's compute service: nova-cpu.conf's [DEFAULT] host, else the
# host name (nova-compute's default).
function _stackdrill_node_name {
    local name=""
    local conf=${NOVA_CPU_CONF:-/etc/nova/nova-cpu.conf}
    if [[ -f "$conf" ]]; then
        name=$(iniget "$conf" DEFAULT host)
    fi
    echo "${name:-$(hostname)}"
}

function _stackdrill_ensure_sshd {
    if sudo ss -Hltn 'sport = :22' | grep -q .; then
        return 0
    fi
    local unit
    for unit in ssh sshd; do
        if systemctl cat "$unit.service" >/dev/null 2>&1; then
            sudo systemctl enable --now "$unit.service"
            return 0
        fi
    done
    die $LINENO "stackdrill: no SSH daemon on this node (install openssh-server)"
}

function _stackdrill_authorize_key {
    local home
    home=$(getent passwd "$STACKDRILL_SSH_USER" | cut -d: -f6)
    if [[ -z "$home" ]]; then
        die $LINENO "stackdrill: no user $STACKDRILL_SSH_USER on this node"
    fi
    local public
    public=$(cat "$STACKDRILL_SSH_KEY.pub")
    local keys=$home/.ssh/authorized_keys
    sudo install -d -m 700 -o "$STACKDRILL_SSH_USER" "$home/.ssh"
    if ! sudo grep -qxF "$public" "$keys" 2>/dev/null; then
        echo "$public" | sudo tee -a "$keys" >/dev/null
    fi
    sudo chown "$STACKDRILL_SSH_USER" "$keys"
    sudo chmod 600 "$keys"
}

# The unit names of this node that differ from the devstack profile's.
function _stackdrill_unit_overrides {
    if is_service_enabled mysql && [[ -n "${MYSQL_SERVICE_NAME:-}" ]]; then
        echo "--unit mariadb=$MYSQL_SERVICE_NAME"
    fi
    if is_fedora; then
        echo "--unit ssh=sshd"
    fi
    if [[ "$(trueorfalse True NEUTRON_DEPLOY_MOD_WSGI)" == "False" ]]; then
        echo "--unit neutron-api=devstack@q-svc"
    fi
    if [[ "$(trueorfalse False OVN_BUILD_FROM_SOURCE)" == "True" ]]; then
        echo "--unit ovn-controller=devstack@ovn-controller"
        echo "--unit ovn-northd=devstack@ovn-northd"
        echo "--unit openvswitch=devstack@ovs-vswitchd"
        echo "--unit ovsdb-server=devstack@ovsdb-server"
    fi
}

function configure_stackdrill {
    mkdir -p "$STACKDRILL_DATA_DIR" "$(dirname "$STACKDRILL_SSH_KEY")"
    if [[ ! -f "$STACKDRILL_SSH_KEY" ]]; then
        ssh-keygen -q -t ed25519 -N "" -C "stackdrill@$(hostname)" -f "$STACKDRILL_SSH_KEY"
    fi
    _stackdrill_ensure_sshd
    _stackdrill_authorize_key
    local address
    address=$(_stackdrill_address)
    ssh-keyscan -H "$address" >"$STACKDRILL_KNOWN_HOSTS" 2>/dev/null || true
    if [[ ! -s "$STACKDRILL_KNOWN_HOSTS" ]]; then
        die $LINENO "stackdrill: ssh-keyscan $address returned no host key"
    fi
    local -a units
    read -r -a units <<<"$(_stackdrill_unit_overrides | tr '\n' ' ')"
    "$STACKDRILL_VENV/bin/stackdrill" inventory devstack \
        --node "$(_stackdrill_node_name),$address,$ENABLED_SERVICES" "${units[@]}" \
        --cloud "$STACKDRILL_CLOUD" --ssh-user "$STACKDRILL_SSH_USER" \
        --ssh-key "$STACKDRILL_SSH_KEY" --known-hosts "$STACKDRILL_KNOWN_HOSTS" \
        --output "$STACKDRILL_INVENTORY"
}

function run_stackdrill_drills {
    if [[ -z "$STACKDRILL_RUN_TAGS" ]]; then
        return 0
    fi
    local status=0
    (cd "$STACKDRILL_DIR" && "$STACKDRILL_VENV/bin/stackdrill" run features \
        -m "$STACKDRILL_RUN_TAGS" --inventory "$STACKDRILL_INVENTORY" \
        --os-cloud "$STACKDRILL_CLOUD" --reports "$STACKDRILL_REPORTS" \
        --history "$STACKDRILL_HISTORY" --journal "$STACKDRILL_JOURNAL" \
        --budget-scale "$STACKDRILL_BUDGET_SCALE") || status=$?
    if [[ $status -ne 0 ]]; then
        local message="the drills marked $STACKDRILL_RUN_TAGS exited $status"
        warn $LINENO "stackdrill: $message; reports in $STACKDRILL_REPORTS/latest"
    fi
}

function cleanup_stackdrill {
    if [[ -f "$STACKDRILL_SSH_KEY.pub" ]]; then
        local home
        home=$(getent passwd "$STACKDRILL_SSH_USER" | cut -d: -f6)
        local keys=$home/.ssh/authorized_keys
        if [[ -n "$home" ]] && sudo test -f "$keys"; then
            local public
            public=$(cat "$STACKDRILL_SSH_KEY.pub")
            sudo awk -v key="$public" '$0 != key' "$keys" | sudo tee "$keys.stackdrill" >/dev/null
            sudo chown --reference="$keys" "$keys.stackdrill"
            sudo chmod 600 "$keys.stackdrill"
            sudo mv "$keys.stackdrill" "$keys"
        fi
    fi
    rm -f "$STACKDRILL_SSH_KEY" "$STACKDRILL_SSH_KEY.pub" "$STACKDRILL_KNOWN_HOSTS" \
        "$STACKDRILL_INVENTORY"
}


if is_service_enabled stackdrill; then
    if [[ "$1" == "stack" && "$2" == "install" ]]; then
        echo_summary "Installing stackdrill's harness in $STACKDRILL_VENV"
        install_stackdrill
    elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
        echo_summary "Writing stackdrill's inventory of this node to $STACKDRILL_INVENTORY"
        configure_stackdrill
    elif [[ "$1" == "stack" && "$2" == "test-config" ]]; then
        run_stackdrill_drills
    fi

    if [[ "$1" == "unstack" ]]; then
        # stackdrill runs no service of its own
        :
    fi

    if [[ "$1" == "clean" ]]; then
        cleanup_stackdrill
    fi
fi

$_XTRACE_STACKDRILL
