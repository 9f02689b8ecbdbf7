// A time-series line chart drawn by uPlot.
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

import type { Aligned } from "../lib/series";

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];

export function TimeChart({ data, title, height = 240 }: { data: Aligned; title: string; height?: number }) {
  const host = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const el = host.current!;
    const width = Math.max(320, el.clientWidth || 640);
    const plot = new uPlot(
      {
        width,
        height,
        series: [
          {},
          ...data.columns.map((c, i) => ({
            label: c.label,
            stroke: COLORS[i % COLORS.length],
            width: 2,
            spanGaps: false,
            points: { show: data.xs.length <= 120, size: 5 },
          })),
        ],
        axes: [{}, {}],
        scales: { x: { time: true, range: () => data.range } },
      },
      [data.xs, ...data.columns.map((c) => c.values)] as uPlot.AlignedData,
      el,
    );
    const resize = () => plot.setSize({ width: Math.max(320, el.clientWidth), height });
    window.addEventListener("resize", resize);
    return () => {
      window.removeEventListener("resize", resize);
      plot.destroy();
    };
  }, [data, height]);

  return <div className="chart" ref={host} role="img" aria-label={title} data-testid="chart" />;
}
