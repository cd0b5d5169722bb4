import { Injectable, Logger } from '@nestjs/common';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface DashboardAsset {
  body: Buffer;
  contentType: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** URL name under `/assets/` of the Chart.js bundle taken from the installed npm package. */
export const CHART_JS_ASSET = 'vendor/chart.umd.min.js';

/**
 * The dashboard's files, read once at startup and served from memory. They live in
 * `src/dashboard/public/`; `nest build` copies them beside the compiled module (nest-cli.json
 * `assets`). Builds that only transpile TypeScript (the process tests' swc output) have no copy,
 * so the source folder under the working directory is the fallback.
 */
@Injectable()
export class DashboardAssets {
  private readonly logger = new Logger(DashboardAssets.name);
  private readonly files = new Map<string, DashboardAsset>();

  constructor() {
    const folder = DashboardAssets.publicFolder();
    if (!folder) {
      this.logger.warn('Dashboard files not found: GET / will answer 404');
      return;
    }
    for (const name of readdirSync(folder)) {
      const contentType = CONTENT_TYPES[extname(name)];
      if (contentType) this.files.set(name, { body: readFileSync(join(folder, name)), contentType });
    }
    this.files.set(CHART_JS_ASSET, { body: DashboardAssets.chartJsBundle(), contentType: CONTENT_TYPES['.js'] });
  }

  /** `name` is a file name from the folder (no paths) or {@link CHART_JS_ASSET}. */
  get(name: string): DashboardAsset | undefined {
    return this.files.get(name);
  }

  private static publicFolder(): string | undefined {
    const candidates = [
      fileURLToPath(new URL('./public/', import.meta.url)),
      join(process.cwd(), 'src', 'dashboard', 'public'),
    ];
    return candidates.find((folder) => existsSync(join(folder, 'index.html')));
  }

  /**
   * Chart.js does not export its UMD file, so it is found next to the package's main entry. The
   * trailing source-map comment is dropped: the map is not served.
   */
  private static chartJsBundle(): Buffer {
    const main = createRequire(import.meta.url).resolve('chart.js');
    const source = readFileSync(join(dirname(main), 'chart.umd.min.js'), 'utf8');
    return Buffer.from(source.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n'));
  }
}
