# rpmforge %postun for mysite: $1 is 0 on erase, 1 or more on upgrade.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -ge 1 ]; then
        systemctl try-restart mysite.service >/dev/null 2>&1 || :
    fi
fi
