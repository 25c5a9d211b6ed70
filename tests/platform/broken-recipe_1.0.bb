SUMMARY = "Fixture: a recipe with lint errors"
LICENSE = "MIT"

SRC_URI = "file://hello.c"

inherit pkgconfig

DEPENDS = "zlib"

do_install() {
    install -d ${D}${bindir}
    install -m 0755 ${WORKDIR}/hello ${D}${bindir}/hello
}
