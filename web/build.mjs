// Builds web/dist: the page, its script and the centrifuge SDK's browser
// bundle from npm. CMake embeds web/dist into the herald binary.
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
mkdirSync(dist, { recursive: true });
for (const file of ['index.html', 'app.js', 'style.css'])
  copyFileSync(join(here, 'src', file), join(dist, file));
copyFileSync(join(here, 'node_modules', 'centrifuge', 'dist', 'centrifuge.js'),
             join(dist, 'centrifuge.js'));
console.log('web/dist built');
