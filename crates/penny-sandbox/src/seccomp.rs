//! The seccomp filter every sandbox runs under, handed to bubblewrap
//! (`--seccomp FD`) as a classic BPF program.
//!
//! It is a deny list on top of what the namespaces and `--cap-drop ALL` already
//! take away: the kernel interfaces that have been the way out of containers
//! (io_uring, userfaultfd, keyrings, eBPF, perf events, ptrace and cross-process
//! memory access, mounting, namespaces, modules, kexec, reboot, swap, accounting),
//! memfd files (memory the per-run budget could not see), and sockets of any
//! family but Unix, IP and netlink (vsock above all).
//! Denied calls fail with EPERM, so Python raises `PermissionError` instead of
//! dying. `clone3` fails with ENOSYS (its flags sit in memory a filter cannot
//! read; the C library then falls back to `clone`, whose namespace flags are
//! refused here). Another architecture (a 32-bit `int 0x80`) kills the process, and
//! x32 system calls on x86_64 get ENOSYS, so neither can slip past the list.
//!
//! Written out by hand rather than with a filter compiler: the program is a
//! straight list of comparisons, and it needs the x32 range check and the clone
//! flag test, which the pure-Rust compilers cannot express (libseccomp could, at
//! the price of a C library in the one binary).

use std::io::Write;
use std::os::fd::OwnedFd;

// linux/filter.h, linux/bpf_common.h
/// BPF_LD | BPF_W | BPF_ABS (the first two are 0).
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JEQ_K: u16 = 0x05 | 0x10;
const BPF_JMP_JGE_K: u16 = 0x05 | 0x30;
const BPF_JMP_JSET_K: u16 = 0x05 | 0x40;
const BPF_RET_K: u16 = 0x06;
// linux/seccomp.h
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_ALLOW: u32 = 0x7fff_0000;
// struct seccomp_data: nr, arch, instruction_pointer, args[6]. The low half of
// args[0] is at 16 on little-endian machines (x86_64 and aarch64 both are).
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;
const OFFSET_ARG0_LOW: u32 = 16;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// `clone` flags that make a new namespace.
const CLONE_NEW_ANY: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWCGROUP) as u32;

/// Calls that fail with EPERM inside a sandbox.
const DENIED: &[libc::c_long] = &[
    libc::SYS_io_uring_setup,
    libc::SYS_io_uring_enter,
    libc::SYS_io_uring_register,
    libc::SYS_userfaultfd,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_process_madvise,
    libc::SYS_pidfd_getfd,
    libc::SYS_kcmp,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_open_tree,
    libc::SYS_move_mount,
    libc::SYS_fsopen,
    libc::SYS_fsconfig,
    libc::SYS_fsmount,
    libc::SYS_fspick,
    libc::SYS_mount_setattr,
    libc::SYS_name_to_handle_at,
    libc::SYS_open_by_handle_at,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_reboot,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_acct,
    libc::SYS_quotactl,
    libc::SYS_syslog,
    libc::SYS_vhangup,
    // File-backed memory outside every process's resident set (and outside the
    // workspace's size limit): the run's memory budget could not see it.
    libc::SYS_memfd_create,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_memfd_secret,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_quotactl_fd,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_move_pages,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_migrate_pages,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_modify_ldt,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_iopl,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_ioperm,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_uselib,
];

/// One `struct sock_filter`.
#[derive(Clone, Copy)]
struct Insn {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

const fn stmt(code: u16, k: u32) -> Insn {
    Insn {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> Insn {
    Insn { code, jt, jf, k }
}

/// The filter as BPF instructions.
fn instructions() -> Vec<Insn> {
    let eperm = RET_ERRNO | libc::EPERM as u32;
    let enosys = RET_ERRNO | libc::ENOSYS as u32;
    let mut p = vec![
        stmt(BPF_LD_W_ABS, OFFSET_ARCH),
        jump(BPF_JMP_JEQ_K, AUDIT_ARCH, 1, 0),
        stmt(BPF_RET_K, RET_KILL_PROCESS),
        stmt(BPF_LD_W_ABS, OFFSET_NR),
    ];
    #[cfg(target_arch = "x86_64")]
    p.extend([
        jump(BPF_JMP_JGE_K, X32_SYSCALL_BIT, 0, 1),
        stmt(BPF_RET_K, enosys),
    ]);
    for &nr in DENIED {
        p.extend([jump(BPF_JMP_JEQ_K, nr as u32, 0, 1), stmt(BPF_RET_K, eperm)]);
    }
    p.extend([
        // socket: local and IP families only (the network namespace has nothing but
        // loopback). Others are refused: AF_VSOCK is not cut off by a network
        // namespace (the host or hypervisor behind a VM listens there), and the rest
        // (AF_ALG, AF_PACKET, Bluetooth…) are kernel surface a script has no use for.
        jump(BPF_JMP_JEQ_K, libc::SYS_socket as u32, 0, 7),
        stmt(BPF_LD_W_ABS, OFFSET_ARG0_LOW),
        jump(BPF_JMP_JEQ_K, libc::AF_UNIX as u32, 4, 0),
        jump(BPF_JMP_JEQ_K, libc::AF_INET as u32, 3, 0),
        jump(BPF_JMP_JEQ_K, libc::AF_INET6 as u32, 2, 0),
        jump(BPF_JMP_JEQ_K, libc::AF_NETLINK as u32, 1, 0),
        stmt(BPF_RET_K, eperm),
        stmt(BPF_RET_K, RET_ALLOW),
        jump(BPF_JMP_JEQ_K, libc::SYS_clone3 as u32, 0, 1),
        stmt(BPF_RET_K, enosys),
        // clone: refuse namespace flags, allow the rest.
        jump(BPF_JMP_JEQ_K, libc::SYS_clone as u32, 0, 3),
        stmt(BPF_LD_W_ABS, OFFSET_ARG0_LOW),
        jump(BPF_JMP_JSET_K, CLONE_NEW_ANY, 0, 1),
        stmt(BPF_RET_K, eperm),
        stmt(BPF_RET_K, RET_ALLOW),
    ]);
    p
}

/// The program in the binary layout the kernel (and bubblewrap) read.
pub(crate) fn program() -> Vec<u8> {
    let insns = instructions();
    let mut bytes = Vec::with_capacity(insns.len() * 8);
    for i in insns {
        bytes.extend_from_slice(&i.code.to_ne_bytes());
        bytes.push(i.jt);
        bytes.push(i.jf);
        bytes.extend_from_slice(&i.k.to_ne_bytes());
    }
    bytes
}

/// A pipe holding the program, read end returned: bubblewrap reads it to EOF.
/// The program is well under a pipe's buffer, so writing cannot block.
pub(crate) fn program_fd() -> std::io::Result<OwnedFd> {
    // Close-on-exec: a sandbox started at the same moment must not inherit it (its
    // copy of the write end would keep this bubblewrap waiting for EOF).
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    std::fs::File::from(write).write_all(&program())?;
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_jump_lands_inside_the_program() {
        let p = instructions();
        for (at, i) in p.iter().enumerate() {
            if i.code & 0x07 == 0x05 {
                assert!(at + 1 + usize::from(i.jt.max(i.jf)) < p.len(), "at {at}");
            }
        }
        assert_eq!(
            p.last().map(|i| (i.code, i.k)),
            Some((BPF_RET_K, RET_ALLOW))
        );
        assert!(p.len() < 4096, "BPF_MAXINSNS");
    }
}
