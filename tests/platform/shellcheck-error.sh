#!/bin/sh
# Fixture: ShellCheck findings (SC2086 unquoted expansion, SC2002 useless cat).
target=$1
cat /etc/hostname | tr a-z A-Z
rm -rf $target/cache
