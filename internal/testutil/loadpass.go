package testutil

// LoadPassScript answers snmpd's pass_persist protocol for UCD-SNMP-MIB's
// laLoadInt.1 with the number in the file $1, read at every request, so
// that a test sets a real server's load (busybox sh and dash both run
// it). snmpd.conf: pass_persist .1.3.6.1.4.1.2021.10.1.5.1 /bin/sh SCRIPT FILE.
const LoadPassScript = `#!/bin/sh
oid=.1.3.6.1.4.1.2021.10.1.5.1
while read -r cmd; do
  case "$cmd" in
  PING) echo PONG ;;
  get) read -r req; if [ "$req" = "$oid" ]; then echo "$oid"; echo integer; cat "$1"; else echo NONE; fi ;;
  getnext) read -r req; echo NONE ;;
  set) read -r req; read -r val; echo not-writable ;;
  *) exit 0 ;;
  esac
done
`
