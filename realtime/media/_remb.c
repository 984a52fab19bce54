/* The publisher's receive-side bandwidth estimate (REMB) in C: aiortc 1.16.0's
 * RemoteBitrateEstimator (aiortc/rate.py, itself adapted from webrtc.org), ported step for step.
 *
 * aiortc runs it for every video packet a publisher sends: a rate counter of 1 ms buckets, the
 * inter-arrival filter grouping packets by their abs-send-time, a Kalman filter estimating the
 * queueing delay's trend, the over-use detector and the AIMD rate control. In Python that is
 * ≈ 20 µs per packet on this machine's kind, the largest piece of a publisher packet's path
 * after the fan-out. Here it is one C call.
 *
 * The port keeps the Python's arithmetic: the same operations in the same order on doubles,
 * Python's round() (half to even) and int() (toward zero), no floating-point contraction
 * (-ffp-contract=off), so the estimates are the same bit for bit; tests/test_media_receive.py
 * runs both on the same random packet scripts and compares every result and the filters'
 * state after every packet. One difference on purpose: the rate counter's 1,000 buckets are
 * allocated on the first packet (aiortc allocates 1,000 objects per receiver up front, also
 * for the SFU's send-only slots that never receive; hooks.LazyBitrateEstimator did the same
 * for the Python one), and a jump of more than the window clears them at once instead of
 * millisecond by millisecond (the same state). And the SSRCs a REMB names are capped at 64 per
 * receiver (aiortc's list grows with every SSRC routed to it, and a publisher controls them).
 */
#include "_dataplane.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define WINDOW 1000 /* RateCounter(1000, 8000) */
#define SCALE 8000
#define BURST_DELTA_THRESHOLD_MS 5
#define MAX_ADAPT_OFFSET_MS 15
#define MIN_NUM_DELTAS 60
#define DELTA_COUNTER_MAX 1000
#define MIN_FRAME_PERIOD_HISTORY_LENGTH 60
#define INTER_ARRIVAL_SHIFT 26
#define TIMESTAMP_GROUP_LENGTH_MS 5
#define TIMESTAMP_TO_MS (1000.0 / (double)(1 << INTER_ARRIVAL_SHIFT))
#define GROUP_LENGTH (((int64_t)TIMESTAMP_GROUP_LENGTH_MS << INTER_ARRIVAL_SHIFT) / 1000)
#define FEEDBACK_INTERVAL 500
#define MAX_SSRCS 64

enum { NORMAL = 0, UNDERUSING = 1, OVERUSING = 2 };    /* BandwidthUsage */
enum { HOLD = 0, INCREASE = 1, DECREASE = 2 };         /* RateControlState */

/* Python's float ** float (float_pow) for finite operands: libm's pow on the magnitude, the sign
 * put back for an odd integer exponent. Called through a pointer, so the compiler does not turn
 * pow(x, 2.0) into x * x (which differs from libm's result in the last bit). */
static double (*volatile libm_pow)(double, double) = pow;

static double py_pow(double iv, double iw) {
    if (iw == 0 || iv == 1.0)
        return 1.0;
    if (iv < 0.0 && iw == floor(iw)) {
        double magnitude = libm_pow(-iv, iw);
        return fmod(fabs(iw), 2.0) == 1.0 ? -magnitude : magnitude;
    }
    return libm_pow(iv, iw);
}

/* Python's round(x) for a float: half to even (float___round___impl). */
static double py_round(double x) {
    double rounded = round(x);
    if (fabs(x - rounded) == 0.5)
        rounded = 2.0 * round(x / 2.0);
    return rounded;
}

static uint32_t uint32_add(uint32_t a, int64_t b) { return (uint32_t)((int64_t)a + b); }

static int uint32_gt(uint32_t a, uint32_t b) {
    const uint32_t half = 0x80000000u;
    return (a < b && b - a > half) || (a > b && a - b < half);
}

typedef struct {
    int has;
    int64_t arrival_time;
    uint32_t first_timestamp, last_timestamp;
    int64_t size;
} group_t;

typedef struct {
    PyObject_HEAD
    /* RateCounter */
    int64_t *counts, *values; /* WINDOW each, allocated on the first packet */
    int64_t origin_index, origin_ms, total_count, total_value;
    int has_origin;
    int incoming_bitrate_initialized;
    /* InterArrival */
    group_t current, previous;
    /* OveruseEstimator */
    double E[2][2];
    int num_of_deltas;
    double offset, previous_offset, slope, avg_noise, var_noise, process_noise[2];
    double ts_delta_hist[MIN_FRAME_PERIOD_HISTORY_LENGTH];
    int hist_len, hist_start;
    /* OveruseDetector */
    int hypothesis;
    int has_detector_update;
    int64_t detector_last_update_ms;
    double k_up, k_down;
    int overuse_counter;
    int has_overuse_time;
    double overuse_time, overuse_time_threshold, detector_previous_offset, threshold;
    /* AimdRateControl */
    int has_avg_max;
    double avg_max_bitrate_kbps, var_max_bitrate_kbps;
    int64_t current_bitrate;
    int current_bitrate_initialized;
    int has_first_throughput_time;
    int64_t first_estimated_throughput_time;
    int has_last_change;
    int64_t last_change_ms;
    int near_max;
    int64_t latest_estimated_throughput, rtt;
    int state;
    /* RemoteBitrateEstimator */
    int has_last_update;
    int64_t last_update_ms;
    uint32_t ssrcs[MAX_SSRCS]; /* in first-seen order, as the dict's keys */
    int n_ssrcs;
} BitrateEstimator;

/* ---- RateCounter ---- */

static void counter_reset(BitrateEstimator *self) {
    if (self->counts != NULL) {
        memset(self->counts, 0, WINDOW * sizeof(int64_t));
        memset(self->values, 0, WINDOW * sizeof(int64_t));
    }
    self->origin_index = 0;
    self->has_origin = 0;
    self->total_count = self->total_value = 0;
}

static int64_t py_mod(int64_t a, int64_t m) {
    int64_t r = a % m;
    return r < 0 ? r + m : r;
}

static void counter_erase_old(BitrateEstimator *self, int64_t now_ms) {
    int64_t new_origin_ms = now_ms - WINDOW + 1;
    if (self->origin_ms >= new_origin_ms)
        return;
    int64_t steps = new_origin_ms - self->origin_ms;
    if (steps >= WINDOW) { /* every bucket leaves the window */
        memset(self->counts, 0, WINDOW * sizeof(int64_t));
        memset(self->values, 0, WINDOW * sizeof(int64_t));
        self->total_count = self->total_value = 0;
        self->origin_index = py_mod(self->origin_index + steps, WINDOW);
        self->origin_ms = new_origin_ms;
        return;
    }
    while (self->origin_ms < new_origin_ms) {
        int64_t i = self->origin_index;
        self->total_count -= self->counts[i];
        self->total_value -= self->values[i];
        self->counts[i] = self->values[i] = 0;
        self->origin_index = (self->origin_index + 1) % WINDOW;
        self->origin_ms += 1;
    }
}

static void counter_add(BitrateEstimator *self, int64_t value, int64_t now_ms) {
    if (!self->has_origin) {
        self->origin_ms = now_ms;
        self->has_origin = 1;
    } else {
        counter_erase_old(self, now_ms);
    }
    int64_t index = py_mod(self->origin_index + now_ms - self->origin_ms, WINDOW);
    self->counts[index] += 1;
    self->values[index] += value;
    self->total_count += 1;
    self->total_value += value;
}

/* 1 and *rate set, or 0 for None. */
static int counter_rate(BitrateEstimator *self, int64_t now_ms, int64_t *rate) {
    if (!self->has_origin)
        return 0;
    counter_erase_old(self, now_ms);
    int64_t active_window_size = now_ms - self->origin_ms + 1;
    if (self->total_count > 0 && active_window_size > 1) {
        *rate = (int64_t)py_round((double)(SCALE * self->total_value) / (double)active_window_size);
        return 1;
    }
    return 0;
}

/* ---- InterArrival ---- */

static int belongs_to_burst(BitrateEstimator *self, uint32_t timestamp, int64_t arrival_time) {
    uint32_t timestamp_delta = uint32_add(timestamp, -(int64_t)self->current.last_timestamp);
    int64_t timestamp_delta_ms = (int64_t)py_round(TIMESTAMP_TO_MS * (double)timestamp_delta);
    int64_t arrival_time_delta = arrival_time - self->current.arrival_time;
    return timestamp_delta_ms == 0 ||
           ((arrival_time_delta - timestamp_delta_ms) < 0 && arrival_time_delta <= BURST_DELTA_THRESHOLD_MS);
}

/* 1 with the deltas set, or 0. */
static int compute_deltas(BitrateEstimator *self, uint32_t timestamp, int64_t arrival_time, int64_t size,
                          uint32_t *d_timestamp, int64_t *d_arrival, int64_t *d_size) {
    int deltas = 0;
    if (!self->current.has) {
        self->current = (group_t){1, 0, timestamp, timestamp, 0};
    } else if (uint32_add(timestamp, -(int64_t)self->current.first_timestamp) >= 0x80000000u) {
        return 0; /* out of order */
    } else if (!belongs_to_burst(self, timestamp, arrival_time) &&
               uint32_add(timestamp, -(int64_t)self->current.first_timestamp) > GROUP_LENGTH) {
        if (self->previous.has) {
            *d_timestamp = uint32_add(self->current.last_timestamp, -(int64_t)self->previous.last_timestamp);
            *d_arrival = self->current.arrival_time - self->previous.arrival_time;
            *d_size = self->current.size - self->previous.size;
            deltas = 1;
        }
        self->previous = self->current;
        self->current = (group_t){1, 0, timestamp, timestamp, 0};
    } else if (uint32_gt(timestamp, self->current.last_timestamp)) {
        self->current.last_timestamp = timestamp;
    }
    self->current.size += size;
    self->current.arrival_time = arrival_time;
    return deltas;
}

/* ---- OveruseEstimator ---- */

static double update_min_frame_period(BitrateEstimator *self, double ts_delta) {
    double min_frame_period = ts_delta;
    if (self->hist_len >= MIN_FRAME_PERIOD_HISTORY_LENGTH) { /* pop(0) */
        self->hist_start = (self->hist_start + 1) % MIN_FRAME_PERIOD_HISTORY_LENGTH;
        self->hist_len--;
    }
    for (int i = 0; i < self->hist_len; i++) {
        double old = self->ts_delta_hist[(self->hist_start + i) % MIN_FRAME_PERIOD_HISTORY_LENGTH];
        if (old < min_frame_period) /* min(old, current): the first of equals */
            min_frame_period = old;
    }
    self->ts_delta_hist[(self->hist_start + self->hist_len) % MIN_FRAME_PERIOD_HISTORY_LENGTH] = ts_delta;
    self->hist_len++;
    return min_frame_period;
}

static void update_noise_estimate(BitrateEstimator *self, double residual, double ts_delta) {
    double alpha = 0.01;
    if (self->num_of_deltas > 10 * 30)
        alpha = 0.002;
    double beta = py_pow(1 - alpha, ts_delta * 30.0 / 1000.0);
    self->avg_noise = beta * self->avg_noise + (1 - beta) * residual;
    self->var_noise = beta * self->var_noise + (1 - beta) * py_pow(self->avg_noise - residual, 2.0);
    if (self->var_noise < 1)
        self->var_noise = 1;
}

static void estimator_update(BitrateEstimator *self, int64_t time_delta_ms, double timestamp_delta_ms,
                             int64_t size_delta, int current_hypothesis) {
    double min_frame_period = update_min_frame_period(self, timestamp_delta_ms);
    double t_ts_delta = (double)time_delta_ms - timestamp_delta_ms;
    double fs_delta = (double)size_delta;

    self->num_of_deltas = self->num_of_deltas + 1 < DELTA_COUNTER_MAX ? self->num_of_deltas + 1 : DELTA_COUNTER_MAX;

    self->E[0][0] += self->process_noise[0];
    self->E[1][1] += self->process_noise[1];
    if ((current_hypothesis == OVERUSING && self->offset < self->previous_offset) ||
        (current_hypothesis == UNDERUSING && self->offset > self->previous_offset))
        self->E[1][1] += 10 * self->process_noise[1];

    double h[2] = {fs_delta, 1.0};
    double Eh[2] = {
        self->E[0][0] * h[0] + self->E[0][1] * h[1],
        self->E[1][0] * h[0] + self->E[1][1] * h[1],
    };

    double residual = t_ts_delta - self->slope * h[0] - self->offset;
    if (current_hypothesis == NORMAL) {
        double max_residual = 3.0 * sqrt(self->var_noise);
        if (fabs(residual) < max_residual)
            update_noise_estimate(self, residual, min_frame_period);
        else
            update_noise_estimate(self, residual < 0 ? -max_residual : max_residual, min_frame_period);
    }

    double denom = self->var_noise + h[0] * Eh[0] + h[1] * Eh[1];
    double K[2] = {Eh[0] / denom, Eh[1] / denom};
    double IKh[2][2] = {{1.0 - K[0] * h[0], -K[0] * h[1]}, {-K[1] * h[0], 1.0 - K[1] * h[1]}};
    double e00 = self->E[0][0];
    double e01 = self->E[0][1];

    self->E[0][0] = e00 * IKh[0][0] + self->E[1][0] * IKh[0][1];
    self->E[0][1] = e01 * IKh[0][0] + self->E[1][1] * IKh[0][1];
    self->E[1][0] = e00 * IKh[1][0] + self->E[1][0] * IKh[1][1];
    self->E[1][1] = e01 * IKh[1][0] + self->E[1][1] * IKh[1][1];

    self->previous_offset = self->offset;
    self->slope += K[0] * residual;
    self->offset += K[1] * residual;
}

/* ---- OveruseDetector ---- */

static void update_threshold(BitrateEstimator *self, double modified_offset, int64_t now_ms) {
    if (!self->has_detector_update) {
        self->detector_last_update_ms = now_ms;
        self->has_detector_update = 1;
    }
    if (fabs(modified_offset) > self->threshold + MAX_ADAPT_OFFSET_MS) {
        self->detector_last_update_ms = now_ms;
        return;
    }
    double k = fabs(modified_offset) < self->threshold ? self->k_down : self->k_up;
    int64_t time_delta_ms = now_ms - self->detector_last_update_ms;
    if (time_delta_ms > 100)
        time_delta_ms = 100;
    self->threshold += k * (fabs(modified_offset) - self->threshold) * (double)time_delta_ms;
    self->threshold = self->threshold < 600 ? self->threshold : 600; /* max(6, min(t, 600)) */
    self->threshold = 6 > self->threshold ? 6 : self->threshold;
    self->detector_last_update_ms = now_ms;
}

static void detect(BitrateEstimator *self, double offset, double timestamp_delta_ms, int num_of_deltas,
                   int64_t now_ms) {
    if (num_of_deltas < 2)
        return;
    double T = (double)(num_of_deltas < MIN_NUM_DELTAS ? num_of_deltas : MIN_NUM_DELTAS) * offset;
    if (T > self->threshold) {
        if (!self->has_overuse_time) {
            self->overuse_time = timestamp_delta_ms / 2;
            self->has_overuse_time = 1;
        } else {
            self->overuse_time += timestamp_delta_ms;
        }
        self->overuse_counter += 1;
        if (self->overuse_time > self->overuse_time_threshold && self->overuse_counter > 1 &&
            offset >= self->detector_previous_offset) {
            self->overuse_counter = 0;
            self->overuse_time = 0;
            self->hypothesis = OVERUSING;
        }
    } else if (T < -self->threshold) {
        self->overuse_counter = 0;
        self->has_overuse_time = 0;
        self->hypothesis = UNDERUSING;
    } else {
        self->overuse_counter = 0;
        self->has_overuse_time = 0;
        self->hypothesis = NORMAL;
    }
    self->detector_previous_offset = offset;
    update_threshold(self, T, now_ms);
}

/* ---- AimdRateControl ---- */

static int64_t clamp_bitrate(BitrateEstimator *self, int64_t new_bitrate, int64_t estimated_throughput) {
    int64_t max_bitrate = (int64_t)(1.5 * (double)estimated_throughput) + 10000;
    if (self->current_bitrate > max_bitrate)
        max_bitrate = self->current_bitrate;
    return new_bitrate < max_bitrate ? new_bitrate : max_bitrate;
}

/* 0, or -1 with ZeroDivisionError (a current bitrate of 0, where aiortc raised it too). */
static int near_max_rate_increase(BitrateEstimator *self, int64_t *out) {
    double bits_per_frame = (double)self->current_bitrate / 30;
    double packets_per_frame = ceil(bits_per_frame / (8 * 1200));
    if (packets_per_frame == 0) {
        PyErr_SetString(PyExc_ZeroDivisionError, "float division by zero");
        return -1;
    }
    double avg_packet_size_bits = bits_per_frame / packets_per_frame;
    int64_t response_time = self->rtt + 100;
    int64_t increase = (int64_t)((avg_packet_size_bits * 1000) / (double)response_time);
    *out = increase > 4000 ? increase : 4000;
    return 0;
}

static int64_t multiplicative_rate_increase(BitrateEstimator *self, int64_t new_bitrate, int64_t now_ms) {
    double alpha = 1.08;
    if (self->has_last_change) {
        int64_t elapsed_ms = now_ms - self->last_change_ms;
        if (elapsed_ms > 1000)
            elapsed_ms = 1000;
        alpha = py_pow(alpha, (double)elapsed_ms / 1000);
    }
    double increase = (alpha - 1) * (double)new_bitrate;
    return (int64_t)(increase >= 1000 ? increase : 1000.0);
}

static void update_max_throughput_estimate(BitrateEstimator *self, double estimated_throughput_kbps) {
    double alpha = 0.05;
    if (!self->has_avg_max) {
        self->avg_max_bitrate_kbps = estimated_throughput_kbps;
        self->has_avg_max = 1;
    } else {
        self->avg_max_bitrate_kbps = (1 - alpha) * self->avg_max_bitrate_kbps + alpha * estimated_throughput_kbps;
    }
    double norm = self->avg_max_bitrate_kbps > 1 ? self->avg_max_bitrate_kbps : 1;
    self->var_max_bitrate_kbps = (1 - alpha) * self->var_max_bitrate_kbps +
                                 alpha * py_pow(self->avg_max_bitrate_kbps - estimated_throughput_kbps, 2.0) / norm;
    double v = self->var_max_bitrate_kbps < 2.5 ? self->var_max_bitrate_kbps : 2.5;
    self->var_max_bitrate_kbps = 0.4 > v ? 0.4 : v;
}

/* 1 with *bitrate, 0 for None, -1 with an exception. */
static int rate_control_update(BitrateEstimator *self, int usage, int has_throughput, int64_t estimated_throughput,
                               int64_t now_ms, int64_t *bitrate) {
    if (!self->current_bitrate_initialized && has_throughput) {
        if (!self->has_first_throughput_time) {
            self->first_estimated_throughput_time = now_ms;
            self->has_first_throughput_time = 1;
        } else if (now_ms - self->first_estimated_throughput_time > 3000) {
            self->current_bitrate = estimated_throughput;
            self->current_bitrate_initialized = 1;
        }
    }
    if (!self->current_bitrate_initialized && usage != OVERUSING)
        return 0;

    if (usage == NORMAL && self->state == HOLD) {
        self->last_change_ms = now_ms;
        self->has_last_change = 1;
        self->state = INCREASE;
    } else if (usage == OVERUSING) {
        self->state = DECREASE;
    } else if (usage == UNDERUSING) {
        self->state = HOLD;
    }

    int64_t new_bitrate = self->current_bitrate;
    if (has_throughput)
        self->latest_estimated_throughput = estimated_throughput;
    else
        estimated_throughput = self->latest_estimated_throughput;
    double estimated_throughput_kbps = (double)estimated_throughput / 1000;

    if (self->state == INCREASE) {
        if (self->has_avg_max) {
            double sigma_kbps = sqrt(self->var_max_bitrate_kbps * self->avg_max_bitrate_kbps);
            if (estimated_throughput_kbps >= self->avg_max_bitrate_kbps + 3 * sigma_kbps) {
                self->near_max = 0;
                self->has_avg_max = 0;
            }
        }
        if (self->near_max) {
            int64_t rate;
            if (near_max_rate_increase(self, &rate) < 0)
                return -1;
            new_bitrate += (int64_t)((double)((now_ms - self->last_change_ms) * rate) / 1000);
        } else {
            new_bitrate += multiplicative_rate_increase(self, new_bitrate, now_ms);
        }
        self->last_change_ms = now_ms;
        self->has_last_change = 1;
    } else if (self->state == DECREASE) {
        if (self->has_avg_max) {
            double sigma_kbps = sqrt(self->var_max_bitrate_kbps * self->avg_max_bitrate_kbps);
            if (estimated_throughput_kbps < self->avg_max_bitrate_kbps - 3 * sigma_kbps)
                self->has_avg_max = 0;
        }
        update_max_throughput_estimate(self, estimated_throughput_kbps);
        self->near_max = 1;
        new_bitrate = (int64_t)py_round(0.85 * (double)estimated_throughput);
        self->last_change_ms = now_ms;
        self->has_last_change = 1;
        self->state = HOLD;
    }
    self->current_bitrate = clamp_bitrate(self, new_bitrate, estimated_throughput);
    *bitrate = self->current_bitrate;
    return 1;
}

/* ---- the Python type ---- */

static void estimator_init_state(BitrateEstimator *self) {
    self->incoming_bitrate_initialized = 1;
    self->E[0][0] = 100.0;
    self->E[0][1] = 0.0;
    self->E[1][0] = 0.0;
    self->E[1][1] = 0.1;
    self->slope = 1.0 / 64;
    self->var_noise = 50.0;
    self->process_noise[0] = 1e-13;
    self->process_noise[1] = 1e-3;
    self->hypothesis = NORMAL;
    self->k_up = 0.0087;
    self->k_down = 0.039;
    self->overuse_time_threshold = 10;
    self->threshold = 12.5;
    self->var_max_bitrate_kbps = 0.4;
    self->current_bitrate = 30000000;
    self->latest_estimated_throughput = 30000000;
    self->rtt = 200;
    self->state = HOLD;
}

static PyObject *estimator_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    if (PyTuple_GET_SIZE(args) || (kwds != NULL && PyDict_GET_SIZE(kwds))) {
        PyErr_SetString(PyExc_TypeError, "BitrateEstimator() takes no arguments");
        return NULL;
    }
    BitrateEstimator *self = (BitrateEstimator *)type->tp_alloc(type, 0);
    if (self != NULL)
        estimator_init_state(self);
    return (PyObject *)self;
}

static void estimator_dealloc(BitrateEstimator *self) {
    PyMem_Free(self->counts);
    PyMem_Free(self->values);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* add(arrival_time_ms, abs_send_time, payload_size, ssrc) -> (bitrate, [ssrc, ...]) | None */
static PyObject *estimator_add(BitrateEstimator *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"arrival_time_ms", "abs_send_time", "payload_size", "ssrc", NULL};
    long long arrival_time_ms, payload_size;
    unsigned long abs_send_time, ssrc_value;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "LkLk", kwlist, &arrival_time_ms, &abs_send_time, &payload_size,
                                     &ssrc_value))
        return NULL;
    if (abs_send_time > 0xFFFFFF || ssrc_value > 0xFFFFFFFFul || payload_size < 0) {
        PyErr_SetString(PyExc_ValueError, "add: abs_send_time is 24 bits, ssrc 32 bits, payload_size >= 0");
        return NULL;
    }
    if (self->counts == NULL) {
        self->counts = PyMem_Calloc(WINDOW, sizeof(int64_t));
        self->values = PyMem_Calloc(WINDOW, sizeof(int64_t));
        if (self->counts == NULL || self->values == NULL)
            return PyErr_NoMemory();
    }
    int64_t now = arrival_time_ms;
    uint32_t timestamp = (uint32_t)(abs_send_time << 8);
    uint32_t ssrc = (uint32_t)ssrc_value;

    int known = 0;
    for (int i = 0; i < self->n_ssrcs; i++)
        known |= self->ssrcs[i] == ssrc;
    if (!known && self->n_ssrcs < MAX_SSRCS)
        self->ssrcs[self->n_ssrcs++] = ssrc;

    int64_t rate;
    if (counter_rate(self, now, &rate)) {
        self->incoming_bitrate_initialized = 1;
    } else if (self->incoming_bitrate_initialized) {
        counter_reset(self);
        self->incoming_bitrate_initialized = 0;
    }
    counter_add(self, payload_size, now);

    uint32_t d_timestamp;
    int64_t d_arrival, d_size;
    if (compute_deltas(self, timestamp, now, payload_size, &d_timestamp, &d_arrival, &d_size)) {
        double timestamp_delta_ms = (double)d_timestamp * TIMESTAMP_TO_MS;
        estimator_update(self, d_arrival, timestamp_delta_ms, d_size, self->hypothesis);
        detect(self, self->offset, timestamp_delta_ms, self->num_of_deltas, now);
    }

    if ((self->has_last_update && now - self->last_update_ms <= FEEDBACK_INTERVAL) && self->hypothesis != OVERUSING)
        Py_RETURN_NONE;
    int has_rate = counter_rate(self, now, &rate);
    int64_t target;
    int rc = rate_control_update(self, self->hypothesis, has_rate, has_rate ? rate : 0, now, &target);
    if (rc < 0)
        return NULL;
    if (rc == 0)
        Py_RETURN_NONE;
    self->last_update_ms = now;
    self->has_last_update = 1;
    PyObject *ssrcs = PyList_New(self->n_ssrcs);
    if (ssrcs == NULL)
        return NULL;
    for (int i = 0; i < self->n_ssrcs; i++) {
        PyObject *value = PyLong_FromUnsignedLong(self->ssrcs[i]);
        if (value == NULL) {
            Py_DECREF(ssrcs);
            return NULL;
        }
        PyList_SET_ITEM(ssrcs, i, value);
    }
    return Py_BuildValue("(LN)", (long long)target, ssrcs);
}

/* The filters' state, for the differential test: names as in aiortc's objects. */
static PyObject *estimator_state(BitrateEstimator *self, PyObject *Py_UNUSED(ignored)) {
    PyObject *none = Py_None;
    return Py_BuildValue(
        "{s:L,s:L,s:d,s:d,s:d,s:d,s:d,s:i,s:i,s:d,s:i,s:N,s:L,s:i,s:N,s:d,s:i,s:N}", "total_count",
        (long long)self->total_count, "total_value", (long long)self->total_value, "offset", self->offset, "slope",
        self->slope, "avg_noise", self->avg_noise, "var_noise", self->var_noise, "E11", self->E[1][1],
        "num_of_deltas", self->num_of_deltas, "hypothesis", self->hypothesis, "threshold", self->threshold,
        "overuse_counter", self->overuse_counter, "overuse_time",
        self->has_overuse_time ? PyFloat_FromDouble(self->overuse_time) : (Py_INCREF(none), none), "current_bitrate",
        (long long)self->current_bitrate, "rate_state", self->state, "avg_max_bitrate_kbps",
        self->has_avg_max ? PyFloat_FromDouble(self->avg_max_bitrate_kbps) : (Py_INCREF(none), none),
        "var_max_bitrate_kbps", self->var_max_bitrate_kbps, "near_max", self->near_max, "last_update_ms",
        self->has_last_update ? PyLong_FromLongLong(self->last_update_ms) : (Py_INCREF(none), none));
}

static PyMethodDef estimator_methods[] = {
    {"add", (PyCFunction)(void (*)(void))estimator_add, METH_VARARGS | METH_KEYWORDS,
     "add(arrival_time_ms, abs_send_time, payload_size, ssrc) -> (bitrate, ssrcs) | None"},
    {"_state", (PyCFunction)estimator_state, METH_NOARGS, "the filters' state (tests)"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject BitrateEstimatorType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "realtime.media._dataplane.BitrateEstimator",
    .tp_basicsize = sizeof(BitrateEstimator),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = estimator_new,
    .tp_dealloc = (destructor)estimator_dealloc,
    .tp_methods = estimator_methods,
    .tp_doc = "aiortc's RemoteBitrateEstimator (REMB) in C: the same estimates, bit for bit.",
};

int dp_remb_add_types(PyObject *module) { return dp_add_type(module, "BitrateEstimator", &BitrateEstimatorType); }
