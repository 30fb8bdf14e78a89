# Charts for `fastkv eval suite`, from the files it writes into its output folder:
#   DIR/chart-budget.dat  one block per method (title line first): KV kept share, mean score, label
#   DIR/chart-pareto.dat  one line per method and budget at the longest length: TTFT ms, mean score, label
# Scores are means over the cells where full KV is above chance.
#   gnuplot -e "datadir='runs/suite'; nseries=8" scripts/suite-charts.gp
if (!exists("datadir")) datadir = "runs/suite"
if (!exists("nseries")) nseries = 1
set termoption noenhanced
set key outside right top box opaque
set grid
set style data linespoints

do for [fmt in "svg png"] {
  if (fmt eq "svg") { set terminal svg size 1000,600 dynamic font "sans,12" background "white" }
  else { set terminal pngcairo size 1000,600 font "sans,11" }
  set termoption noenhanced

  set output datadir."/accuracy-budget.".fmt
  set title "Suite accuracy vs KV kept (mean over cells above chance)"
  set xlabel "KV kept (share of full)"
  set ylabel "score (%)"
  set logscale x
  set yrange [0:105]
  plot for [i=0:nseries-1] datadir."/chart-budget.dat" index i using 1:($2*100) title columnheader(1) lw 2 pt 7
  unset logscale x

  set output datadir."/accuracy-ttft.".fmt
  set title "Suite accuracy vs TTFT at the longest length (up and left is better)"
  set xlabel "TTFT (ms)"
  set ylabel "score (%)"
  plot datadir."/chart-pareto.dat" using 1:($2*100) with points pt 7 ps 1.2 notitle, \
       "" using 1:($2*100):3 with labels offset 0.8,0.6 left font ",8" notitle
  unset output
}
