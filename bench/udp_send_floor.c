/* Benchmark: what the kernel alone charges for one forwarded datagram on this machine.
 *
 * The SFU's sending thread sends each forwarded RTP packet with one sendto() on the
 * subscriber leg's own socket (docs/media.md, "The sending thread"). This program does only
 * that, with no Python, no SRTP and no receive path: 16 UDP sockets, each sending 1,200-byte
 * datagrams to its own loopback receiver, which a child process drains (so, as in the
 * benches, the receiver's side of the loopback runs inside the sender's send). It is the
 * floor under any SFU's forwarding cost on loopback here, whatever its language.
 *
 * Two ways, alternating rounds (the baseline is measured in the same run):
 *   sendto   one system call per datagram, as the sending thread does;
 *   io_uring one io_uring_enter per fan-out of 16 IORING_OP_SENDMSG, i.e. the system call's
 *            entry and exit paid once per fan-out instead of per datagram.
 *
 *     cc -O2 -o /tmp/udp_send_floor bench/udp_send_floor.c && /tmp/udp_send_floor [rounds]
 *
 * Prints the CPU (user + system, this process) per datagram of each round and one JSON line
 * with the medians. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define LEGS 16
#define DATAGRAMS 400000
#define SIZE 1200

static int tx[LEGS];
static struct sockaddr_in to[LEGS];
static char payload[SIZE];

static double cpu_seconds(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return r.ru_utime.tv_sec + r.ru_stime.tv_sec + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

static double with_sendto(void) {
    double start = cpu_seconds();
    for (int n = 0; n < DATAGRAMS; n++) {
        int leg = n % LEGS;
        sendto(tx[leg], payload, SIZE, MSG_DONTWAIT, (struct sockaddr *)&to[leg], sizeof to[leg]);
    }
    return (cpu_seconds() - start) * 1e6 / DATAGRAMS;
}

static double with_io_uring(void) {
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    int ring = (int)syscall(SYS_io_uring_setup, 64, &p);
    if (ring < 0)
        return -1;
    char *sq = mmap(0, p.sq_off.array + p.sq_entries * 4, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring,
                    IORING_OFF_SQ_RING);
    char *cq = mmap(0, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe), PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_CQ_RING);
    struct io_uring_sqe *sqes = mmap(0, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                                     MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES);
    unsigned *sq_tail = (unsigned *)(sq + p.sq_off.tail), *sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
    unsigned *sq_array = (unsigned *)(sq + p.sq_off.array);
    unsigned *cq_head = (unsigned *)(cq + p.cq_off.head), *cq_tail = (unsigned *)(cq + p.cq_off.tail);
    struct msghdr msg[LEGS];
    struct iovec iov[LEGS];
    for (int leg = 0; leg < LEGS; leg++) {
        iov[leg] = (struct iovec){payload, SIZE};
        memset(&msg[leg], 0, sizeof msg[leg]);
        msg[leg].msg_name = &to[leg];
        msg[leg].msg_namelen = sizeof to[leg];
        msg[leg].msg_iov = &iov[leg];
        msg[leg].msg_iovlen = 1;
    }
    double start = cpu_seconds();
    for (int n = 0; n < DATAGRAMS; n += LEGS) {
        unsigned tail = *sq_tail;
        for (int leg = 0; leg < LEGS; leg++) {
            unsigned index = (tail + leg) & *sq_mask;
            struct io_uring_sqe *sqe = &sqes[index];
            memset(sqe, 0, sizeof *sqe);
            sqe->opcode = IORING_OP_SENDMSG;
            sqe->fd = tx[leg];
            sqe->addr = (unsigned long)&msg[leg];
            sqe->msg_flags = MSG_DONTWAIT;
            sq_array[index] = index;
        }
        atomic_store_explicit((_Atomic unsigned *)sq_tail, tail + LEGS, memory_order_release);
        syscall(SYS_io_uring_enter, ring, LEGS, LEGS, IORING_ENTER_GETEVENTS, NULL, 0);
        atomic_store_explicit((_Atomic unsigned *)cq_head,
                              atomic_load_explicit((_Atomic unsigned *)cq_tail, memory_order_acquire),
                              memory_order_release);
    }
    double result = (cpu_seconds() - start) * 1e6 / DATAGRAMS;
    munmap(sqes, p.sq_entries * sizeof(struct io_uring_sqe));
    munmap(cq, p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe));
    munmap(sq, p.sq_off.array + p.sq_entries * 4);
    close(ring);
    return result;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 5;
    if (rounds < 1 || rounds > 50)
        rounds = 5;
    int rx[LEGS];
    memset(payload, 0x5a, SIZE);
    for (int leg = 0; leg < LEGS; leg++) {
        rx[leg] = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in local = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t length = sizeof local;
        if (bind(rx[leg], (struct sockaddr *)&local, sizeof local) || getsockname(rx[leg], (struct sockaddr *)&local, &length)) {
            perror("bind");
            return 1;
        }
        int buffer = 1 << 20; /* a browser-sized receive buffer, as bench/_rtc.py gives its peers */
        setsockopt(rx[leg], SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
        to[leg] = local;
        tx[leg] = socket(AF_INET, SOCK_DGRAM, 0);
    }
    pid_t drain = fork();
    if (drain == 0) {
        char buffer[2048];
        for (;;) {
            int any = 0;
            for (int leg = 0; leg < LEGS; leg++)
                while (recv(rx[leg], buffer, sizeof buffer, MSG_DONTWAIT) > 0)
                    any = 1;
            if (!any)
                usleep(200);
        }
    }
    double plain[50], batched[50];
    for (int round = 0; round < rounds; round++) {
        plain[round] = with_sendto();
        batched[round] = with_io_uring(); /* < 0: io_uring_setup refused (disabled, or a seccomp filter) */
        if (batched[round] < 0)
            printf("round %d: sendto %.2f µs per datagram, io_uring unavailable\n", round + 1, plain[round]);
        else
            printf("round %d: sendto %.2f µs, io_uring %.2f µs per datagram\n", round + 1, plain[round], batched[round]);
        fflush(stdout);
    }
    kill(drain, SIGKILL);
    qsort(plain, rounds, sizeof(double), by_value);
    qsort(batched, rounds, sizeof(double), by_value);
    char uring[32] = "null";
    if (batched[0] >= 0) /* sorted: the smallest is negative when any round was refused */
        snprintf(uring, sizeof uring, "%.2f", batched[rounds / 2]);
    printf("{\"bench\": \"udp_send_floor\", \"legs\": %d, \"bytes\": %d, \"rounds\": %d, "
           "\"us_per_datagram\": {\"sendto\": %.2f, \"io_uring\": %s}}\n",
           LEGS, SIZE, rounds, plain[rounds / 2], uring);
    return 0;
}
