const regionNames = new Intl.DisplayNames(['en'], { type: 'region' });

/** English name of an ISO 3166-1 alpha-2 code (`DE` → `Germany`); `Unknown` for null or unknown codes. */
export function countryName(code: string | null | undefined): string {
  if (!code) return 'Unknown';
  try {
    return regionNames.of(code.toUpperCase()) ?? 'Unknown';
  } catch {
    return 'Unknown';
  }
}
