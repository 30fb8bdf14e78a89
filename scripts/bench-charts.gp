# Charts for `fastkv bench`: TTFT vs prompt length (every series; aggregated dashed) and KV wire bytes
# vs prompt length (cluster series). Inputs written by the bench, one block per (mode, config) series
# with a title line first; columns: prompt tokens, TTFT p50 ms, wire bytes p50, second-token p50 ms.
#   DIR/chart-data.dat  every series, aggregated ones first (nagg of them)
#   DIR/chart-wire.dat  the series that moved KV over the wire
#   gnuplot -e "datadir='runs/bench'; nseries=10; nwire=5; nagg=5" scripts/bench-charts.gp
if (!exists("datadir")) datadir = "runs/bench"
if (!exists("nseries")) nseries = 1
if (!exists("nwire")) nwire = 0
if (!exists("nagg")) nagg = 0
set termoption noenhanced
set key top left box opaque
set grid
set xlabel "prompt tokens"
set style data linespoints

do for [fmt in "svg png"] {
  if (fmt eq "svg") { set terminal svg size 900,560 dynamic font "sans,12" background "white" }
  else { set terminal pngcairo size 900,560 font "sans,11" }
  set termoption noenhanced

  set output datadir."/ttft.".fmt
  set title "Time to first token (p50) vs prompt length (dashed: aggregated, in-process)"
  set ylabel "TTFT (ms)"
  plot for [i=0:nseries-1] datadir."/chart-data.dat" index i using 1:2 title columnheader(1) lw 2 pt 7 dt 1+(i<nagg) lc 1+(i<nagg?i:i-nagg)

  if (nwire > 0) {
    set output datadir."/wire.".fmt
    set title "KV bytes on the wire (p50) vs prompt length"
    set ylabel "wire bytes (MiB)"
    plot for [i=0:nwire-1] datadir."/chart-wire.dat" index i using 1:($3/1048576) title columnheader(1) lw 2 pt 7
  }
  unset output
}
