/**
 * Prism's language files (prismjs/components/*) register themselves on a global `Prism`:
 * point it at the Prism that prism-react-renderer highlights with, before they load.
 */
import { Prism } from 'prism-react-renderer';

(globalThis as { Prism?: typeof Prism }).Prism = Prism;
