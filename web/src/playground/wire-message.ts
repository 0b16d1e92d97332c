/**
 * A playground message as edited and as sent. Its own file (no JSX) so the wire shape is
 * tested beside the server's parser (test/unit/playground-image.test.ts).
 */
export type Role = 'system' | 'user' | 'assistant';

export interface AttachedImage {
  name: string;
  /** `data:image/…;base64,…` */
  dataUri: string;
}

export interface EditableMessage {
  /** A stable key for React; not sent. */
  key: number;
  role: Role;
  content: string;
  image?: AttachedImage;
}

/** The largest image the server takes in one part (MEDIA_LIMITS.partBytes). */
export const MAX_IMAGE_BYTES = 10 * 1024 * 1024;

/** A message as sent: with an image, its text and the image as content parts. */
export function wireMessage(message: EditableMessage, withImage: boolean): { role: Role; content: unknown } {
  if (!withImage || message.image === undefined || message.role !== 'user') return { role: message.role, content: message.content };
  return {
    role: message.role,
    content: [
      { type: 'text', text: message.content },
      { type: 'image_url', image_url: { url: message.image.dataUri } },
    ],
  };
}

