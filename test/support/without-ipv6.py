#!/usr/bin/env python3
"""Runs a command on a kernel that refuses IPv6 sockets, as one booted with ipv6.disable=1 does:
socket(AF_INET6, ...) fails with EAFNOSUPPORT. A seccomp filter (libseccomp, which apt itself
depends on) installed on this process is inherited by the command it execs.

    without-ipv6.py COMMAND [ARG...]
"""
import ctypes
import errno
import os
import socket
import sys

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_ACT_ERRNO = 0x00050000
SCMP_CMP_EQ = 4


class ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: without-ipv6.py COMMAND [ARG...]")
    lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(ArgCmp)]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]
    ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
    if not ctx:
        sys.exit("without-ipv6.py: seccomp_init failed")
    family = ArgCmp(0, SCMP_CMP_EQ, socket.AF_INET6, 0)
    rc = lib.seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO | errno.EAFNOSUPPORT, lib.seccomp_syscall_resolve_name(b"socket"), 1, ctypes.byref(family))
    if rc != 0 or lib.seccomp_load(ctx) != 0:
        sys.exit(f"without-ipv6.py: could not install the seccomp filter ({rc})")
    os.execvp(sys.argv[1], sys.argv[1:])


main()
