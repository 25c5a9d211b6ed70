SUMMARY = "Body-worn camera recorder daemon and control CLI"
DESCRIPTION = "bodycam records camera video and microphone audio into hashed, \
signed evidence segments on the /data partition, drives the record button, \
LEDs and haptic motor, and is controlled through 'bodycam ctl'."
HOMEPAGE = "https://example.invalid/bodycam"
BUGTRACKER = "https://example.invalid/bodycam/issues"
SECTION = "multimedia"
# Cargo.toml declares Apache-2.0. The repository carries no LICENSE file yet,
# so the checksum is of oe-core's copy of the licence text; point it at the
# repository's own file (and drop the nooelint) once there is one.
LICENSE = "Apache-2.0"
# nooelint: oelint.var.licenseremotefile
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"
# bodycam records H.264 and AAC only through patent-encumbered encoders
# (x264enc, avenc_aac) whose recipes carry LICENSE_FLAGS = "commercial"; the
# same flag here makes that a declared requirement. A distro that does not
# accept commercial_bodycam (the bodycam distro does) skips this recipe
# instead of failing on the missing plugins.
LICENSE_FLAGS = "commercial"

# gstreamer-sys / gstreamer-app-sys link against these (found with pkg-config).
DEPENDS = "gstreamer1.0 gstreamer1.0-plugins-base"

SRC_URI = "git://example.invalid/bodycam.git;protocol=https;branch=main"
# The agency's footage recipient files (the .pub half of `bodycam pki footage-key`),
# which the agency's own bbappend puts in files/recipients/ and names here, e.g.
# BODYCAM_RECIPIENTS = "agency.pub". systemd/bodycam.toml requires encryption to
# /etc/bodycam/recipients/agency.pub, so an image without one would refuse to record
# (exit 78): the build stops at its first task instead (do_check_recipients). Empty by
# default so that the layer parses (a missing file:// entry is fatal at parse time).
BODYCAM_RECIPIENTS ??= ""
SRC_URI += "${@' '.join('file://recipients/' + f for f in (d.getVar('BODYCAM_RECIPIENTS') or '').split())}"

# PLACEHOLDER until the first release: SRCREV must name a commit that holds
# the systemd/ files installed below and whose Cargo.lock is the one
# bodycam-crates.inc was generated from. At each release set it to the tagged
# commit and run scripts/gen-crates-inc.py on that commit (CI checks the .inc
# against the Cargo.lock of the tree it tests).
SRCREV = "4b93da5e599c59d708bb1a5a4137c25b25f0ce7e"

python do_check_recipients() {
    if not (d.getVar('BODYCAM_RECIPIENTS') or '').split():
        bb.fatal("bodycam: no footage recipients. The image requires encryption "
                 "(systemd/bodycam.toml): put the agency's recipient file (bodycam pki "
                 "footage-key) in files/recipients/ of a bbappend and set "
                 "BODYCAM_RECIPIENTS = \"agency.pub\"")
}
addtask check_recipients before do_fetch
do_check_recipients[nostamp] = "1"

# Opt-in hardware and network, set by the agency (local.conf, kas or a bbappend);
# empty by default, when nothing below is installed. See docs/PLATFORM.md
# "Location, power-off and peers".
# BODYCAM_GNSS_DEVICE: the serial device of a GNSS receiver, e.g. "/dev/ttyAMA0"
# (the UART must be enabled for it: the bodycam distro turns it off). Pulls in
# meta-oe's gpsd, points it at the device (gpsd.service.d/50-bodycam.conf), and
# turns location on in bodycam.toml ([location] source = "gpsd").
BODYCAM_GNSS_DEVICE ??= ""
# BODYCAM_PEERS_SUBNET: the Wi-Fi subnet of the agency's cameras, e.g.
# "10.20.0.0/16", for peer-assisted recording: installs
# bodycam.service.d/50-peers.conf, which lets the daemon reach the peers'
# multicast group and that subnet through IPAddressDeny=any. [peers] itself
# (enabled, agency, enrolled list) and a Wi-Fi link are the agency's to add.
BODYCAM_PEERS_SUBNET ??= ""

inherit cargo cargo-update-recipe-crates features_check pkgconfig systemd useradd

# The daemon is supervised by systemd (Type=notify, watchdog, sysusers.d,
# tmpfiles.d, networkd for usb0). usrmerge: sysusers.d/bodycam.conf names
# the shell /usr/sbin/nologin, which is ${base_sbindir}/nologin (see
# USERADD_PARAM) only with usrmerge; oe-core's systemd distros have it.
REQUIRED_DISTRO_FEATURES = "systemd usrmerge"

# One crate:// entry per Cargo.lock package, written by scripts/gen-crates-inc.py.
require ${BPN}-crates.inc

# The camera image carries the recorder only: `bodycam dock-agent` (cargo feature
# dock-agent, on by default for developer builds) runs on the dock, not here.
CARGO_BUILD_FLAGS:append = " --no-default-features"

PACKAGES =+ "${PN}-usb-gadget ${PN}-watchdog"

# The daemon runs as its own user; these are created at build time because
# the rootfs is read-only. sysusers.d/bodycam.conf says the same for systemd,
# and oe-core's systemd_sysusers_check warns at do_rootfs if home or shell
# differ; scripts/ci-platform-checks.sh (sysusers) compares the two.
USERADD_PACKAGES = "${PN}"
GROUPADD_PARAM:${PN} = "--system gpio"
USERADD_PARAM:${PN} = "--system --user-group --home-dir /data/bodycam --no-create-home \
                       --shell ${base_sbindir}/nologin --groups video,gpio,audio bodycam"

SYSTEMD_PACKAGES = "${PN} ${PN}-usb-gadget"
SYSTEMD_SERVICE:${PN} = "bodycam.service"
SYSTEMD_SERVICE:${PN}-usb-gadget = "bodycam-usb-gadget.service"
SYSTEMD_AUTO_ENABLE = "enable"

do_install:append() {
    # Daemon configuration and service (the binary is installed by cargo).
    install -d ${D}${sysconfdir}/bodycam
    install -m 0644 ${S}/systemd/bodycam.toml ${D}${sysconfdir}/bodycam/bodycam.toml
    install -d ${D}${sysconfdir}/bodycam/recipients
    for f in ${BODYCAM_RECIPIENTS}; do
        install -m 0644 ${UNPACKDIR}/recipients/$f ${D}${sysconfdir}/bodycam/recipients/$f
    done
    install -d ${D}${systemd_system_unitdir}
    install -m 0644 ${S}/systemd/bodycam.service ${D}${systemd_system_unitdir}/
    install -d ${D}${nonarch_libdir}/sysusers.d ${D}${nonarch_libdir}/tmpfiles.d
    install -m 0644 ${S}/systemd/sysusers.d/bodycam.conf ${D}${nonarch_libdir}/sysusers.d/bodycam.conf
    install -m 0644 ${S}/systemd/tmpfiles.d/bodycam.conf ${D}${nonarch_libdir}/tmpfiles.d/bodycam.conf
    install -d ${D}${nonarch_base_libdir}/udev/rules.d
    install -m 0644 ${S}/systemd/udev/60-bodycam-devices.rules ${D}${nonarch_base_libdir}/udev/rules.d/

    # USB NCM gadget for the dock link.
    install -d ${D}${libexecdir}/bodycam
    install -m 0755 ${S}/systemd/bodycam-usb-gadget.sh ${D}${libexecdir}/bodycam/
    install -m 0644 ${S}/systemd/bodycam-usb-gadget.service ${D}${systemd_system_unitdir}/
    install -d ${D}${systemd_unitdir}/network
    install -m 0644 ${S}/systemd/network/50-bodycam-usb0.network ${D}${systemd_unitdir}/network/
    install -d ${D}${nonarch_libdir}/modules-load.d
    install -m 0644 ${S}/systemd/modules-load.d/bodycam-usb-gadget.conf ${D}${nonarch_libdir}/modules-load.d/

    # Power-off after the daemon powered down (exit 80): ExecStopPost=+ of bodycam.service.
    install -m 0755 ${S}/systemd/bodycam-power-off.sh ${D}${libexecdir}/bodycam/

    if [ -n "${BODYCAM_GNSS_DEVICE}" ]; then
        install -d ${D}${systemd_system_unitdir}/gpsd.service.d
        sed -e 's#@GNSS_DEVICE@#${BODYCAM_GNSS_DEVICE}#g' ${S}/systemd/gpsd.service.d/50-bodycam.conf.in \
            >${D}${systemd_system_unitdir}/gpsd.service.d/50-bodycam.conf
        sed -i -e 's/^# source = "gpsd"$/source = "gpsd"/' ${D}${sysconfdir}/bodycam/bodycam.toml
        grep -q '^source = "gpsd"$' ${D}${sysconfdir}/bodycam/bodycam.toml ||
            bbfatal "bodycam: BODYCAM_GNSS_DEVICE is set, but bodycam.toml has no '# source = \"gpsd\"' line to turn on"
    fi
    if [ -n "${BODYCAM_PEERS_SUBNET}" ]; then
        install -d ${D}${systemd_system_unitdir}/bodycam.service.d
        sed -e 's#@PEERS_SUBNET@#${BODYCAM_PEERS_SUBNET}#g' ${S}/systemd/bodycam.service.d/50-peers.conf.in \
            >${D}${systemd_system_unitdir}/bodycam.service.d/50-peers.conf
    fi

    # PID 1 feeds the SoC hardware watchdog.
    install -d ${D}${systemd_unitdir}/system.conf.d
    install -m 0644 ${S}/systemd/system.conf.d/10-bodycam-watchdog.conf ${D}${systemd_unitdir}/system.conf.d/
}

FILES:${PN} += "\
    ${libexecdir}/bodycam/bodycam-power-off.sh \
    ${systemd_system_unitdir}/bodycam.service.d \
    ${systemd_system_unitdir}/gpsd.service.d \
    ${nonarch_libdir}/sysusers.d/bodycam.conf \
    ${nonarch_libdir}/tmpfiles.d/bodycam.conf \
    ${nonarch_base_libdir}/udev/rules.d/60-bodycam-devices.rules \
"
FILES:${PN}-usb-gadget += "\
    ${libexecdir}/bodycam/bodycam-usb-gadget.sh \
    ${systemd_system_unitdir}/bodycam-usb-gadget.service \
    ${systemd_unitdir}/network/50-bodycam-usb0.network \
    ${nonarch_libdir}/modules-load.d/bodycam-usb-gadget.conf \
"
FILES:${PN}-watchdog += "${systemd_unitdir}/system.conf.d/10-bodycam-watchdog.conf"

CONFFILES:${PN} = "${sysconfdir}/bodycam/bodycam.toml"

# GStreamer elements the daemon's pipelines create by name. They are plugins,
# loaded at run time, so no shared-library dependency pulls them in.
#   plugins-base: appsink (app), videotestsrc / audiotestsrc (simulated
#     sources), videoconvert (videoconvertscale), audioconvert, audioresample,
#     alsasrc (alsa: in -base, not -good). The burned-in overlay is drawn by the
#     daemon itself (no pango/cairo, no fonts on the image).
#   plugins-good: v4l2src and v4l2h264enc (video4linux2), aacparse (audioparsers)
#   plugins-bad:  h264parse (videoparsersbad), mpegtsmux
#   plugins-ugly: x264enc (needs PACKAGECONFIG x264, set by the bodycam distro)
#   libav:        avenc_aac (AAC, see conf/distro/bodycam.conf for the choice)
#   libcamera-gst: libcamerasrc (needs libcamera PACKAGECONFIG gst, set by
#     the bodycam distro)
# And, only with BODYCAM_GNSS_DEVICE (location, opt-in): meta-oe's gpsd,
# socket-activated on localhost:2947 when the daemon connects.
RDEPENDS:${PN} = "\
    ${@'gpsd' if d.getVar('BODYCAM_GNSS_DEVICE') else ''} \
    gstreamer1.0-libav \
    gstreamer1.0-plugins-bad-mpegtsmux \
    gstreamer1.0-plugins-bad-videoparsersbad \
    gstreamer1.0-plugins-base-alsa \
    gstreamer1.0-plugins-base-app \
    gstreamer1.0-plugins-base-audioconvert \
    gstreamer1.0-plugins-base-audioresample \
    gstreamer1.0-plugins-base-audiotestsrc \
    gstreamer1.0-plugins-base-videoconvertscale \
    gstreamer1.0-plugins-base-videotestsrc \
    gstreamer1.0-plugins-good-audioparsers \
    gstreamer1.0-plugins-good-video4linux2 \
    gstreamer1.0-plugins-ugly-x264 \
    libcamera-gst \
"
