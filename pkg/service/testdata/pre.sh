# rpmforge %pre for mysite: $1 is 1 on install, 2 or more on upgrade.
# Create the service group and system user if they are missing (never removed on erase).
if ! getent group mysite >/dev/null 2>&1; then
    groupadd -r mysite || { echo "mysite: cannot create group mysite" >&2; exit 1; }
fi
if ! getent passwd mysite >/dev/null 2>&1; then
    useradd -r -g mysite -d /var/lib/mysite -s /sbin/nologin -c "mysite service" mysite \
        || { echo "mysite: cannot create user mysite" >&2; exit 1; }
fi
