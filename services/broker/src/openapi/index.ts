// The broker's OpenAPI document (docs/openapi.md): built from the contracts, served with its reference page.
export { documentedRoutes, type OpenApiDocument, type OpenApiOperation, openApiDocument } from './domain/document.js';
export { openApiRouter } from './http/router.js';
