#!/bin/sh
# Builds the image dbc-agent's container tests run, without a registry: a root filesystem of
# busybox (sh, httpd, ...) and dropbear (an SSH server) with its libraries, imported into the
# runtime as localhost/dbc-agent-test:<hash of this script and the binaries>. Its entrypoint
# writes its environment to /www/env.txt, serves /www over HTTP on $PORT, and with $PUBLIC_KEY
# set lets that key in as root over SSH on port 22. Prints the image's name; does nothing if it
# exists already.
#
# Usage: build-test-image.sh [podman|docker]   (Debian: busybox-static, dropbear-bin)
set -eu
rt=${1:-podman}
busybox=$(command -v busybox) || { echo "no busybox (apt-get install busybox-static)" >&2; exit 1; }
dropbear=$(command -v dropbear || echo /usr/sbin/dropbear)
[ -x "$dropbear" ] || { echo "no dropbear (apt-get install dropbear-bin)" >&2; exit 1; }
tag=$(cat "$0" "$busybox" "$dropbear" | sha256sum | cut -c1-12)
image=localhost/dbc-agent-test:$tag
if "$rt" image inspect "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/usr/sbin" "$root/etc" "$root/root" "$root/tmp" "$root/www"
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
for applet in sh cat chmod echo env grep id ls mkdir printf sleep tr httpd; do
  ln -s busybox "$root/bin/$applet"
done
cp "$dropbear" "$root/usr/sbin/dropbear"
for lib in $(ldd "$dropbear" | grep -o '/[^ ]*'); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
echo 'root:x:0:0::/root:/bin/sh' > "$root/etc/passwd"
echo 'root:x:0:' > "$root/etc/group"
cat > "$root/entrypoint.sh" <<'ENTRY'
#!/bin/sh
mkdir -p /www /etc/dropbear
env > /www/env.txt
echo ok > /www/index.html
if [ -n "${PUBLIC_KEY:-}" ]; then
  mkdir -p /root/.ssh
  chmod 700 /root/.ssh
  printf '%s\n' "$PUBLIC_KEY" > /root/.ssh/authorized_keys
  chmod 600 /root/.ssh/authorized_keys
  dropbear -R -F -E -p 22 &
fi
exec httpd -f -p "${PORT:-8080}" -h /www
ENTRY
chmod 755 "$root/entrypoint.sh"
tar -C "$root" -cf - . | "$rt" import --change 'CMD ["/entrypoint.sh"]' - "$image" >/dev/null
echo "$image"
