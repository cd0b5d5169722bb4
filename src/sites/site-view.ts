/** A site as other modules see it: plain data, no mongoose document. */
export interface SiteView {
  id: string;
  domain: string;
  name: string;
  timezone: string;
  allowedOrigins: string[];
  respectDoNotTrack: boolean;
}
