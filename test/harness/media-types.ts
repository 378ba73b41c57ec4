/** Manifest and blob media types of the OCI image spec and Docker's schema 2. */
export const MEDIA_TYPE = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

/** What a digest resolver sends in Accept: every manifest and list type we handle. */
export const MANIFEST_ACCEPT = [
  MEDIA_TYPE.ociIndex,
  MEDIA_TYPE.ociManifest,
  MEDIA_TYPE.dockerManifestList,
  MEDIA_TYPE.dockerManifest,
].join(', ');

/** True for an OCI index or a Docker manifest list. */
export function isIndexMediaType(mediaType: string): boolean {
  return mediaType === MEDIA_TYPE.ociIndex || mediaType === MEDIA_TYPE.dockerManifestList;
}
