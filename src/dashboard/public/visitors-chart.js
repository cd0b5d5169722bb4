/* global window */
// The visitors/pageviews line chart. Chart.js comes from the npm package as a classic script
// (window.Chart) loaded before this module.
import { formatInteger } from './format.js';

const COLORS = { visitors: '#1d4ed8', pageviews: '#0d9488' };

export class VisitorsChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.chart = null;
  }

  /** @param points Array<{ date: string, visitors: number, pageviews: number }> */
  render(points, interval) {
    const labels = points.map((point) => pointLabel(point.date, interval));
    const datasets = ['visitors', 'pageviews'].map((metric) => ({
      label: metric === 'visitors' ? 'Visitors' : 'Pageviews',
      data: points.map((point) => point[metric]),
      borderColor: COLORS[metric],
      backgroundColor: `${COLORS[metric]}22`,
      fill: metric === 'visitors',
      // Monotone curves never overshoot, so the line never suggests a count that did not happen.
      cubicInterpolationMode: 'monotone',
      pointRadius: points.length > 40 ? 0 : 3,
    }));
    const pageviews = points.reduce((sum, point) => sum + point.pageviews, 0);
    this.canvas.setAttribute(
      'aria-label',
      `Chart of visitors and pageviews per ${interval} from ${labels[0] ?? ''} to ${labels.at(-1) ?? ''}, ` +
        `${formatInteger(pageviews)} pageviews in total.`,
    );
    if (this.chart) {
      this.chart.data.labels = labels;
      this.chart.data.datasets = datasets;
      this.chart.update();
      return;
    }
    this.chart = new window.Chart(this.canvas, {
      type: 'line',
      data: { labels, datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: 'index', intersect: false },
        scales: {
          y: { beginAtZero: true, ticks: { precision: 0 } },
          x: { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 8 } },
        },
        plugins: { legend: { position: 'bottom' } },
      },
    });
  }

  destroy() {
    this.chart?.destroy();
    this.chart = null;
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Buckets come as `YYYY-MM-DD`, `YYYY-MM` or with a time (`…T13:00…`) for hourly charts. */
function pointLabel(date, interval) {
  const match = /^(\d{4})-(\d{2})(?:-(\d{2}))?(?:[T ](\d{2}):(\d{2}))?/.exec(date);
  if (!match) return date;
  const [, year, month, day, hour, minute] = match;
  if (interval === 'hour' && hour !== undefined) return `${hour}:${minute}`;
  if (interval === 'month' || day === undefined) return `${MONTHS[Number(month) - 1]} ${year}`;
  return `${MONTHS[Number(month) - 1]} ${Number(day)}`;
}
