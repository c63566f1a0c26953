// The allow-list through libseccomp. The list is what strace -f -c saw `badlink run` and its
// iptables children make after set-up (host and gateway mode, --no-rules, --dump, reloads that
// add and remove jumps, SIGUSR1, SIGTERM), plus what the same code may call on paths those runs
// did not take (iptables-legacy's lock and sockopts, errors, abort).
#include "sys/seccomp_filter.hh"

#include <net/if.h>
#include <sched.h>
#include <seccomp.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>

#include <cerrno>
#include <string>
#include <string_view>

#include "sys/system_error.hh"

namespace badlink {

namespace {

// Allowed whatever their arguments. The packet loop and its helper thread: the first groups.
// Reloads and exit run iptables (posix_spawn, execve; the child inherits this filter, so what
// iptables-nft and iptables-legacy need is here too) and rewrite the --stats-json file.
constexpr std::string_view kAllowed[] = {
    // the loop: its events, timers, queues and raw socket; the clock when the vDSO falls back
    "epoll_pwait2", "epoll_pwait", "epoll_wait", "epoll_ctl", "epoll_create1", "timerfd_create",
    "timerfd_settime", "timerfd_gettime", "eventfd2", "poll", "ppoll", "pselect6", "select",
    "recvmsg", "recvmmsg", "recvfrom", "sendmsg", "sendmmsg", "sendto", "bind", "connect",
    "getsockname", "getsockopt", "setsockopt", "shutdown", "clock_gettime", "clock_getres",
    "clock_nanosleep", "nanosleep", "gettimeofday", "time", "getcpu",
    // the priority governor (sched_setattr with CAP_SYS_NICE raised for the call), the helper
    // thread's CPU choice
    "sched_setattr", "sched_getattr", "sched_setscheduler", "sched_getscheduler", "sched_getparam",
    "sched_setaffinity", "sched_getaffinity", "sched_yield", "getpriority", "setpriority", "capget",
    "capset",
    // memory, threads, signals, exit
    "brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "futex", "set_robust_list",
    "get_robust_list", "rseq", "set_tid_address", "arch_prctl", "rt_sigprocmask", "rt_sigaction",
    "rt_sigreturn", "sigaltstack", "restart_syscall", "exit", "exit_group", "tgkill", "kill",
    "getpid", "getppid", "gettid", "getuid", "geteuid", "getgid", "getegid", "prlimit64",
    "getrlimit", "getrandom", "uname",
    // files: the profile on SIGHUP, /proc's queue counters, the stats JSON, logs
    "read", "readv", "pread64", "write", "writev", "pwrite64", "openat", "open", "close",
    "close_range", "lseek", "fstat", "newfstatat", "stat", "lstat", "statx", "statfs", "fstatfs",
    "access", "faccessat", "faccessat2", "readlink", "readlinkat", "getdents64", "fcntl", "flock",
    "dup", "dup2", "dup3", "pipe2", "rename", "renameat", "renameat2", "unlink", "unlinkat",
    "fsync", "fdatasync", "ftruncate",
    // iptables for reloads and the rules' removal at exit
    "execve", "wait4", "waitid", "setpgid",
    // the control API's server: connections on its socket, the peer's credentials
    "accept4", "accept", "listen", "getpeername"};

// What no path of badlink's makes and an intruder would: the process is killed at once
// (SIGSYS; a child iptables likewise).
constexpr std::string_view kKilling[] = {
    // other processes' memory
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp",
    // mounts and namespaces
    "mount", "umount2", "pivot_root", "chroot", "mount_setattr", "move_mount", "open_tree",
    "fsopen", "fsconfig", "fsmount", "fspick", "unshare", "setns",
    // the kernel itself, and io_uring (its operations pass no filter)
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "bpf",
    "perf_event_open", "userfaultfd", "open_by_handle_at", "keyctl", "add_key", "request_key",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "iopl", "ioperm", "swapon", "swapoff",
    "reboot", "settimeofday", "clock_settime", "adjtimex"};

// Sockets: netlink (NFQUEUE, nf_tables, iptables-nft), IPv4/IPv6 (the raw socket, interface
// ioctls, iptables-legacy), Unix (glibc's if_indextoname). Not AF_PACKET or the rest.
constexpr int kSocketDomains[] = {AF_NETLINK, AF_INET, AF_INET6, AF_UNIX};

// ioctl: an interface's MTU, index and name; isatty() for logs and stdio. Not TIOCSTI & co.
constexpr unsigned long kIoctls[] = {SIOCGIFMTU, SIOCGIFINDEX, SIOCGIFNAME, SIOCGIFFLAGS,
                                     TCGETS,     TIOCGWINSZ,   FIONREAD,    FIONBIO};

// clone without new namespaces only; clone3 hides its flags in memory a filter cannot read,
// so it answers ENOSYS and glibc falls back to clone (posix_spawn does; so does
// pthread_create).
constexpr uint64_t kNamespaceFlags = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
                                     CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;

int number_of(std::string_view name) {
  return seccomp_syscall_resolve_name(std::string(name).c_str());
}

// libseccomp returns -errno.
void check(std::string_view attempt, int rv) {
  if (rv < 0) {
    throw SystemError(attempt, -rv);
  }
}

}  // namespace

struct SeccompFilter::Context {
  scmp_filter_ctx ctx = nullptr;
  ~Context() { seccomp_release(ctx); }
};

SeccompFilter::SeccompFilter() : context_(std::make_unique<Context>()) {
  // Unlisted calls fail with EPERM, so an overlooked path is an error badlink or iptables
  // reports, not a dead packet loop; the kernel logs each (SECCOMP_FILTER_FLAG_LOG: dmesg,
  // or audit type=SECCOMP with the call's number) so that the list can be corrected.
  context_->ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
  if (context_->ctx == nullptr) {
    throw SystemError("seccomp_init", ENOMEM);
  }
  scmp_filter_ctx ctx = context_->ctx;
  check("seccomp_attr_set(SCMP_FLTATR_CTL_TSYNC)", seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1));
  check("seccomp_attr_set(SCMP_FLTATR_CTL_LOG)", seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1));
  check("seccomp_attr_set(SCMP_FLTATR_ACT_BADARCH)",
        seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS));
  // A binary tree over the call numbers: the loop's calls pass a few comparisons, not ~150.
  check("seccomp_attr_set(SCMP_FLTATR_CTL_OPTIMIZE)",
        seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2));

  const auto add = [&](std::string_view name, uint32_t action, auto... conditions) {
    const int nr = number_of(name);
    if (nr == __NR_SCMP_ERROR) {
      return false;  // not a call on this architecture
    }
    check("seccomp_rule_add(" + std::string(name) + ")",
          seccomp_rule_add(ctx, action, nr, sizeof...(conditions), conditions...));
    return true;
  };
  for (const std::string_view name : kAllowed) {
    allowed_ += add(name, SCMP_ACT_ALLOW) ? 1 : 0;
  }
  for (const int domain : kSocketDomains) {
    add("socket", SCMP_ACT_ALLOW,
        scmp_arg_cmp{.arg = 0,
                     .op = SCMP_CMP_EQ,
                     .datum_a = static_cast<scmp_datum_t>(domain),
                     .datum_b = 0});
  }
  for (const unsigned long request : kIoctls) {
    // The request is an int to the kernel: compare its low 32 bits only.
    add("ioctl", SCMP_ACT_ALLOW,
        scmp_arg_cmp{
            .arg = 1, .op = SCMP_CMP_MASKED_EQ, .datum_a = 0xffffffffU, .datum_b = request});
  }
  add("clone", SCMP_ACT_ALLOW,
      scmp_arg_cmp{.arg = 0, .op = SCMP_CMP_MASKED_EQ, .datum_a = kNamespaceFlags, .datum_b = 0});
  add("clone3", SCMP_ACT_ERRNO(ENOSYS));
  allowed_ += 3;  // socket, ioctl and clone, each with its arguments checked
  for (const std::string_view name : kKilling) {
    killing_ += add(name, SCMP_ACT_KILL_PROCESS) ? 1 : 0;
  }
}

SeccompFilter::~SeccompFilter() = default;

void SeccompFilter::load() const { check("seccomp_load", seccomp_load(context_->ctx)); }

size_t SeccompFilter::allowed_count() const { return allowed_; }

size_t SeccompFilter::killing_count() const { return killing_; }

}  // namespace badlink
