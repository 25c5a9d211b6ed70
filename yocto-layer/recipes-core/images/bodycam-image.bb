SUMMARY = "Body-worn camera firmware image"
DESCRIPTION = "Read-only, headless image for Raspberry Pi 4/5 that runs the \
bodycam recorder, the USB gadget for the dock link and the hardware watchdog."
LICENSE = "MIT"

inherit core-image

# Read-only rootfs: evidence goes to the separate /data partition (see
# files/wic/bodycam.wks); /var/log and /run are in RAM. No login over the
# network, no package manager: the image is updated as a whole.
IMAGE_FEATURES += "read-only-rootfs"

# gpsd (meta-oe) comes in through bodycam's RDEPENDS when the build sets
# BODYCAM_GNSS_DEVICE (the reference hardware has no GNSS receiver; see the
# bodycam recipe and docs/PLATFORM.md "Location, power-off and peers").
# kernel-modules: the camera sensor and CSI receiver drivers loaded by the
# device-tree overlay, USB gadget functions (usb_f_ncm) and USB audio.
IMAGE_INSTALL = "\
    packagegroup-core-boot \
    bodycam \
    bodycam-usb-gadget \
    bodycam-watchdog \
    kernel-modules \
    ${CORE_IMAGE_EXTRA_INSTALL} \
"

IMAGE_LINGUAS = ""

# SD card / eMMC image with boot, read-only root and /data partitions.
IMAGE_FSTYPES = "wic.bz2 wic.bmap"
WKS_FILE = "bodycam.wks"
