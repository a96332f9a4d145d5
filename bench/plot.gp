# SPDX-License-Identifier: MIT
# stm-bench's chart, drawn by bench/report:
#   gnuplot -e "batchfile='…'; procsfile='…'; curvefile='…'; bankfile='…';
#               banksys='stm lmdb …'; out='….png'; kname='…';
#               ioctl_commit=…; ioctl_nop=…; cpus=…" bench/plot.gp
# batchfile columns: batch, io_uring commits/s, io_uring NOPs/s
# procsfile columns: processes, commits/s (all processes together), the
#   1-process rate times the vCPU count (linear), the 1-process rate times
#   the empty ioctl's own speed-up (what the host's parallelism allows)
# bankfile columns: processes, then transfers/s of each system of banksys
# curvefile columns: store keys, kernel bytes per key beyond key + value,
#   1-key commit ns, 8-key read ns (keys drawn from the whole store), the
#   same two on 1024 keys spread over the store, and on 8
# Rates are the medians measured inside the VM (QEMU TCG): compare the
# shapes and the ratios, not the absolute values, with another machine.

set terminal pngcairo size 1600,1100 font "DejaVu Sans,11" noenhanced
set output out
set multiplot layout 2,2 title sprintf("stm-bench, kernel %s (QEMU TCG, %d vCPUs): operations per second inside the VM", kname, cpus)

set grid
set key top left box opaque
set style line 1 lw 2 pt 7 ps 1.2 lc rgb "#1f77b4"
set style line 2 lw 2 pt 5 ps 1.0 lc rgb "#ff7f0e"
set style line 3 lw 1.5 dt 2 lc rgb "#1f77b4"
set style line 4 lw 1.5 dt 2 lc rgb "#ff7f0e"
set style line 5 lw 1.5 dt 3 lc rgb "#7f7f7f"
set style line 6 lw 1 dt 4 lc rgb "#1f77b4"
set style line 7 lw 1 dt 4 lc rgb "#ff7f0e"

# Left: throughput against the io_uring batch size.
set title "1-key commits against io_uring batch size"
set xlabel "SQEs per io_uring_enter (batch size)"
set ylabel "operations / s (log scale)"
set logscale x 2
set logscale y 10
set xrange [0.8:80]
set xtics (1, 2, 4, 8, 16, 32, 64)
set format y "%.0s%c"
plot batchfile using 1:2 with linespoints ls 1 title "io_uring COMMIT (1 PUT each)", \
     batchfile using 1:3 with linespoints ls 2 title "io_uring NOP (floor)", \
     ioctl_commit with lines ls 3 title "ioctl COMMIT", \
     ioctl_nop with lines ls 4 title "ioctl NOP (floor)"

# Right: throughput against the number of processes (disjoint keys).
unset logscale x
unset logscale y
set title "1-key commits on disjoint keys against processes"
set xlabel "processes (process i pinned to vCPU i mod cpus)"
set ylabel "commits / s, all processes together"
set xrange [0.5:4.5]
set xtics (1, 2, 3, 4)
set yrange [0:*]
set format y "%.0s%c"
set key bottom right box opaque
plot procsfile using 1:2 with linespoints ls 1 title "1-key commits, measured", \
     procsfile using 1:4 with linespoints ls 4 title "empty ioctls' scaling (floor), in commit units", \
     procsfile using 1:3 with lines ls 5 title "linear up to the vCPU count"

# Third: cost and memory against the store's size.
set title "cost as the store grows (goal: flat; memory <= 64 B/key)"
set xlabel "keys in the store (log scale)"
set ylabel "ns per operation"
set y2label "kernel bytes per key beyond key + value"
set logscale x 10
set xrange [500:2000000]
set xtics auto
set yrange [0:*]
set y2range [0:*]
set y2tics
set format y "%.0f"
set format x "%.0s%c"
set key top left box opaque
plot curvefile using 1:3 with linespoints ls 1 title "1-key commit (ns)", \
     curvefile using 1:4 with linespoints ls 2 title "8-key read (ns)", \
     curvefile using 1:5 with linespoints ls 3 title "1-key commit, 1024 keys spread (ns)", \
     curvefile using 1:6 with linespoints ls 4 title "8-key read, 1024 keys spread (ns)", \
     curvefile using 1:7 with linespoints ls 6 title "1-key commit, 8 keys spread (ns)", \
     curvefile using 1:8 with linespoints ls 7 title "8-key read, 8 keys spread (ns)", \
     curvefile using 1:2 axes x1y2 with linespoints ls 5 title "B/key beyond key + value (right axis)", \
     64 axes x1y2 with lines ls 3 title "64 B/key goal (right axis)"

# Fourth: the bank against the peers.
unset y2label
unset y2tics
unset logscale x
set title "bank: guarded transfers / s against processes (an auditor alongside)"
set xlabel "worker processes"
set ylabel "transfers / s, all workers (log scale)"
set logscale y 10
set xrange [0.5:4.5]
set xtics (1, 2, 4)
set format x "%.0f"
set format y "%.0s%c"
set yrange [*:*]
set key top left box opaque
plot for [i=1:words(banksys)] bankfile using 1:(column(i+1)) with linespoints lw 2 title word(banksys, i)

unset multiplot
