# rpmforge %preun for mysite: $1 is 0 on erase, 1 or more on upgrade.
if [ "$1" -eq 0 ] && command -v systemctl >/dev/null 2>&1; then
    if [ -d /run/systemd/system ]; then
        systemctl --no-reload disable --now mysite.service >/dev/null 2>&1 || :
    else
        systemctl --no-reload disable mysite.service >/dev/null 2>&1 || :
    fi
fi
