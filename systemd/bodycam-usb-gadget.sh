#!/bin/sh
# USB NCM network gadget for the dock link (configfs, libcomposite).
#
# Usage: bodycam-usb-gadget.sh start|stop|status
#
# start  creates (or completes) the gadget and binds it to the first USB
#        device controller; running it again changes nothing.
# stop   unbinds the gadget and removes it; stopping an absent gadget is fine.
#
# The host side (the dock) sees a CDC-NCM network interface; on the camera it
# is usb0, configured by systemd-networkd (50-bodycam-usb0.network).
# Installed as /usr/libexec/bodycam/bodycam-usb-gadget.sh and run by
# bodycam-usb-gadget.service.
#
# Test hooks: BODYCAM_GADGET_CONFIGFS (default /sys/kernel/config/usb_gadget),
# BODYCAM_UDC_DIR (default /sys/class/udc) and BODYCAM_SERIAL_FILE let the
# logic run against a scratch directory instead of the kernel's.
set -eu

GADGET_ROOT=${BODYCAM_GADGET_CONFIGFS:-/sys/kernel/config/usb_gadget}
UDC_DIR=${BODYCAM_UDC_DIR:-/sys/class/udc}
SERIAL_FILE=${BODYCAM_SERIAL_FILE:-/sys/firmware/devicetree/base/serial-number}
GADGET="$GADGET_ROOT/bodycam"
FUNCTION=ncm.usb0
CONFIG=c.1

# Linux Foundation vendor id / "Multifunction Composite Gadget" product id.
ID_VENDOR=0x1d6b
ID_PRODUCT=0x0104
BCD_DEVICE=0x0100
BCD_USB=0x0200
MANUFACTURER="bodycam project"
PRODUCT="bodycam dock link"
MAX_POWER_MA=250

log() { printf 'bodycam-usb-gadget: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Device serial: the SoC serial from the device tree (not a secret), else the
# machine id, else a fixed string. Used for the USB serial and the MACs.
device_serial() {
	serial=""
	if [ -r "$SERIAL_FILE" ]; then
		serial=$(tr -d '\000' <"$SERIAL_FILE")
	fi
	if [ -z "$serial" ] && [ -r /etc/machine-id ]; then
		serial=$(cut -c1-16 /etc/machine-id)
	fi
	printf '%s\n' "${serial:-0000000000000000}"
}

# Stable, locally administered unicast MAC (02:...) derived from the serial;
# $1 selects the host (1) or device (2) end so the two never collide.
derive_mac() {
	hex=$(printf '%s%s' "$1" "$(device_serial)" | cksum | cut -d' ' -f1)
	hex=$(printf '%08x' "$hex")
	printf '02:%s:%s:%s:%s:0%s\n' \
		"$(echo "$hex" | cut -c1-2)" "$(echo "$hex" | cut -c3-4)" \
		"$(echo "$hex" | cut -c5-6)" "$(echo "$hex" | cut -c7-8)" "$1"
}

# Write an attribute only when it differs: attributes cannot be changed while
# the gadget is bound, and rewriting an equal value keeps start idempotent.
set_attr() {
	current=""
	if [ -r "$1" ]; then
		current=$(cat "$1")
	fi
	if [ "$current" != "$2" ]; then
		printf '%s\n' "$2" >"$1"
	fi
}

bound_udc() {
	if [ -r "$GADGET/UDC" ]; then
		cat "$GADGET/UDC"
	fi
}

first_udc() {
	for udc in "$UDC_DIR"/*; do
		if [ -e "$udc" ]; then
			basename "$udc"
			return 0
		fi
	done
	return 1
}

start() {
	[ -d "$GADGET_ROOT" ] || die "$GADGET_ROOT missing: is configfs mounted and libcomposite loaded?"
	if [ -n "$(bound_udc)" ]; then
		log "already bound to $(bound_udc)"
		return 0
	fi
	udc=$(first_udc) || die "no USB device controller in $UDC_DIR (dwc2 peripheral mode enabled?)"

	mkdir -p "$GADGET" "$GADGET/strings/0x409" "$GADGET/configs/$CONFIG/strings/0x409" \
		"$GADGET/functions/$FUNCTION"
	set_attr "$GADGET/idVendor" "$ID_VENDOR"
	set_attr "$GADGET/idProduct" "$ID_PRODUCT"
	set_attr "$GADGET/bcdDevice" "$BCD_DEVICE"
	set_attr "$GADGET/bcdUSB" "$BCD_USB"
	set_attr "$GADGET/strings/0x409/serialnumber" "$(device_serial)"
	set_attr "$GADGET/strings/0x409/manufacturer" "$MANUFACTURER"
	set_attr "$GADGET/strings/0x409/product" "$PRODUCT"
	set_attr "$GADGET/configs/$CONFIG/MaxPower" "$MAX_POWER_MA"
	set_attr "$GADGET/configs/$CONFIG/strings/0x409/configuration" "NCM"
	set_attr "$GADGET/functions/$FUNCTION/host_addr" "$(derive_mac 1)"
	set_attr "$GADGET/functions/$FUNCTION/dev_addr" "$(derive_mac 2)"
	if [ ! -L "$GADGET/configs/$CONFIG/$FUNCTION" ]; then
		ln -s "$GADGET/functions/$FUNCTION" "$GADGET/configs/$CONFIG/$FUNCTION"
	fi
	printf '%s\n' "$udc" >"$GADGET/UDC"
	log "bound to $udc (host MAC $(derive_mac 1), device MAC $(derive_mac 2))"
}

stop() {
	if [ ! -d "$GADGET" ]; then
		log "not present"
		return 0
	fi
	if [ -n "$(bound_udc)" ]; then
		printf '\n' >"$GADGET/UDC"
		log "unbound"
	fi
	# configfs removes attribute files together with their directory; remove
	# the children before the parents. A failure here leaves an unbound,
	# harmless gadget behind, so report it without failing the stop.
	rm -f "$GADGET/configs/$CONFIG/$FUNCTION"
	for dir in "$GADGET/configs/$CONFIG/strings/0x409" "$GADGET/configs/$CONFIG" \
		"$GADGET/functions/$FUNCTION" "$GADGET/strings/0x409" "$GADGET"; do
		if [ -d "$dir" ] && ! rmdir "$dir" 2>/dev/null; then
			log "warning: could not remove $dir"
		fi
	done
}

status() {
	if [ ! -d "$GADGET" ]; then
		echo "absent"
		return 3
	fi
	udc=$(bound_udc)
	if [ -n "$udc" ]; then
		echo "bound to $udc"
		return 0
	fi
	echo "configured, not bound"
	return 3
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) status ;;
*)
	echo "usage: $0 start|stop|status" >&2
	exit 2
	;;
esac
