# rpmforge %post for mysite: $1 is 1 on install, 2 or more on upgrade.
# Works with and without systemd on the host (containers, chroots, installroots).
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
# Migrations (django.migrate = true), as the service user with the env file.
/usr/bin/mysite-manage migrate --noinput || { echo "mysite: 'manage.py migrate' failed; fix the database and run mysite-manage migrate" >&2; exit 1; }
if [ "$1" -eq 1 ]; then
    if command -v systemctl >/dev/null 2>&1; then
        systemctl --no-reload preset mysite.service >/dev/null 2>&1 || systemctl --no-reload enable mysite.service >/dev/null 2>&1 || :
    fi
else
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        systemctl try-restart mysite.service >/dev/null 2>&1 || :
    fi
fi
# user %post scriptlet (rpmforge.toml [scriptlets])
(
echo user post $1
) || exit $?
