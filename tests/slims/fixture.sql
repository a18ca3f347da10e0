-- A trimmed SLiMS 9 (Bulian) database: only the tables and columns import-slims reads, with the
-- column types of slims9_bulian install/senayan.sql, and messy real-world rows: UTF-8 read as
-- latin1 (mojibake), empty strings for NULL, '0000-00-00' dates, ISBNs typed with spaces and
-- hyphens, duplicate authors, a copy whose location does not exist, members without e-mail.
-- Bibliographic values come from Indonesian SLiMS dumps (../shared/data/indonesian).
SET SESSION sql_mode = '';

CREATE TABLE `mst_gmd` (
  `gmd_id` int(11) NOT NULL auto_increment,
  `gmd_code` varchar(3) collate utf8_unicode_ci default NULL,
  `gmd_name` varchar(30) collate utf8_unicode_ci NOT NULL,
  `input_date` date NOT NULL,
  `last_update` date default NULL,
  PRIMARY KEY (`gmd_id`),
  UNIQUE KEY `gmd_name` (`gmd_name`)
) ENGINE=MyISAM DEFAULT CHARSET=utf8 COLLATE=utf8_unicode_ci;
INSERT INTO `mst_gmd` VALUES
(1, 'TE', 'Text', '2012-01-01', '2012-01-01'),
(4, 'CO', 'Computer Software', '2012-01-01', '2012-01-01'),
(21, 'SK', 'Skripsi', '2015-03-02', '2015-03-02'),
(22, 'SR', 'Serial', '2015-03-02', '0000-00-00');

CREATE TABLE `mst_content_type` (
  `id` int(11) NOT NULL AUTO_INCREMENT,
  `content_type` varchar(100) COLLATE utf8_unicode_ci NOT NULL,
  `code` varchar(5) COLLATE utf8_unicode_ci NOT NULL,
  `code2` char(1) COLLATE utf8_unicode_ci NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=MyISAM DEFAULT CHARSET=utf8 COLLATE=utf8_unicode_ci;
INSERT INTO `mst_content_type` VALUES
(14, 'text', 'txt', 'a'),
(20, 'two-dimensional moving image', 'tdi', 'g');

CREATE TABLE `mst_publisher` (
  `publisher_id` int(11) NOT NULL auto_increment,
  `publisher_name` varchar(100) collate utf8_unicode_ci NOT NULL,
  PRIMARY KEY (`publisher_id`),
  UNIQUE KEY `publisher_name` (`publisher_name`)
) ENGINE=MyISAM DEFAULT CHARSET=utf8 COLLATE=utf8_unicode_ci;
INSERT INTO `mst_publisher` VALUES
(1, 'Bentang Pustaka'), (2, 'Hasta Mitra'), (3, 'Gramedia Pustaka Utama'), (4, 'Universitas Gadjah Mada'),
(5, 'Elex Media Komputindo');

CREATE TABLE `mst_place` (
  `place_id` int(11) NOT NULL auto_increment,
  `place_name` varchar(30) collate utf8_unicode_ci NOT NULL,
  PRIMARY KEY (`place_id`),
  UNIQUE KEY `place_name` (`place_name`)
) ENGINE=MyISAM DEFAULT CHARSET=utf8 COLLATE=utf8_unicode_ci;
INSERT INTO `mst_place` VALUES (1, 'Yogyakarta'), (2, 'Jakarta'), (3, ' Jakarta ');

CREATE TABLE `mst_author` (
  `author_id` int(11) NOT NULL auto_increment,
  `author_name` varchar(100) collate utf8_unicode_ci NOT NULL,
  `author_year` varchar(20) collate utf8_unicode_ci default NULL,
  `authority_type` enum('p','o','c') collate utf8_unicode_ci default 'p',
  `input_date` date NOT NULL,
  PRIMARY KEY (`author_id`),
  UNIQUE KEY `author_name` (`author_name`, `authority_type`)
) ENGINE=MyISAM DEFAULT CHARSET=utf8 COLLATE=utf8_unicode_ci;
INSERT INTO `mst_author` VALUES
(1, 'Hirata, Andrea', '', 'p', '2012-01-01'),
(2, 'Toer, Pramoedya Ananta', '', 'p', '2012-01-01'),
(3, 'Toer,  Pramoedya Ananta.', NULL, 'p', '0000-00-00'),
(4, 'Husein Umar', '', 'p', '2012-01-01'),
(5, 'Ã‰mile Durkheim', '', 'p', '2012-01-01'),
(6, 'Siswanto', '', 'p', '2012-01-01'),
(7, 'Dewi Handayani', '', 'p', '2012-01-01'),
(8, 'Universitas Gadjah Mada. Fakultas Teknik', '', 'o', '2012-01-01');

CREATE TABLE `mst_topic` (
  `topic_id` int(11) NOT NULL auto_increment,
  `topic` varchar(50) collate utf8_unicode_ci NOT NULL,
  `topic_type` enum('t','g','n','tm','gr','oc') collate utf8_unicode_ci NOT NULL,
  `classification` varchar(50) collate utf8_unicode_ci NOT NULL,
  PRIMARY KEY (`topic_id`),
  UNIQUE KEY `topic` (`topic`, `topic_type`)
) ENGINE=MyISAM DEFAULT CHARSET=utf8 COLLATE=utf8_unicode_ci;
INSERT INTO `mst_topic` VALUES
(1, 'Novel Indonesia', 't', ''), (2, 'Sejarah', 't', ''), (3, 'Manajemen&Organisasi', 't', ''),
(4, 'Sosiologi', 't', ''), (5, 'sosiologi', 'g', ''), (6, 'Sistem Informasi Manajemen', 't', '');

CREATE TABLE `mst_location` (
  `location_id` varchar(3) collate utf8_unicode_ci NOT NULL,
  `location_name` varchar(100) collate utf8_unicode_ci default NULL,
  `input_date` date NOT NULL,
  `last_update` date NOT NULL,
  PRIMARY KEY (`location_id`)
) ENGINE=MyISAM DEFAULT CHARSET=utf8 COLLATE=utf8_unicode_ci;
INSERT INTO `mst_location` VALUES
('PST', 'Perpustakaan Pusat', '2012-01-01', '2012-01-01'),
('FT', 'Ruang Baca Fakultas Teknik', '2012-01-01', '0000-00-00');

CREATE TABLE `mst_coll_type` (
  `coll_type_id` int(3) NOT NULL auto_increment,
  `coll_type_name` varchar(30) collate utf8_unicode_ci NOT NULL,
  PRIMARY KEY (`coll_type_id`)
) ENGINE=MyISAM DEFAULT CHARSET=utf8 COLLATE=utf8_unicode_ci;
INSERT INTO `mst_coll_type` VALUES (1, 'Reference'), (2, 'Textbook'), (3, 'Fiction');

CREATE TABLE `mst_item_status` (
  `item_status_id` char(3) collate utf8_unicode_ci NOT NULL,
  `item_status_name` varchar(30) collate utf8_unicode_ci NOT NULL,
  `rules` varchar(255) collate utf8_unicode_ci default NULL,
  `no_loan` smallint(1) NOT NULL default '0',
  `skip_stock_take` smallint(1) NOT NULL default '0',
  PRIMARY KEY (`item_status_id`)
) ENGINE=MyISAM DEFAULT CHARSET=utf8 COLLATE=utf8_unicode_ci;
INSERT INTO `mst_item_status` VALUES
('R', 'Repair', 'a:1:{i:0;s:1:"1";}', 1, 0),
('NL', 'No Loan', 'a:1:{i:0;s:1:"1";}', 1, 0),
('MIS', 'Missing', NULL, 1, 1);

CREATE TABLE `biblio` (
  `biblio_id` int(11) NOT NULL auto_increment,
  `gmd_id` int(3) default NULL,
  `title` text collate utf8_unicode_ci NOT NULL,
  `sor` varchar(200) collate utf8_unicode_ci default NULL,
  `edition` varchar(50) collate utf8_unicode_ci default NULL,
  `isbn_issn` varchar(32) collate utf8_unicode_ci default NULL,
  `publisher_id` int(11) default NULL,
  `publish_year` varchar(20) default NULL,
  `collation` varchar(50) collate utf8_unicode_ci default NULL,
  `series_title` varchar(200) collate utf8_unicode_ci default NULL,
  `call_number` varchar(50) collate utf8_unicode_ci default NULL,
  `language_id` char(5) collate utf8_unicode_ci default 'en',
  `publish_place_id` int(11) default NULL,
  `classification` varchar(40) collate utf8_unicode_ci default NULL,
  `notes` text collate utf8_unicode_ci,
  `opac_hide` smallint(1) default 0,
  `content_type_id` int(11) default NULL,
  `input_date` datetime default NULL,
  `last_update` datetime default NULL,
  PRIMARY KEY (`biblio_id`)
) ENGINE=MyISAM DEFAULT CHARSET=utf8 COLLATE=utf8_unicode_ci;
INSERT INTO `biblio` VALUES
(1, 1, 'Laskar pelangi : sebuah novel', 'Andrea Hirata', 'Cet. 1', '979-3062-79-7', 1, '2005', 'xiv, 529 hlm. ; 20 cm',
 'Tetralogi Laskar Pelangi', '899.221 3 HIR l', 'id', 1, '899.221 3', '', 0, 14, '2012-05-02 10:11:12', '2012-05-02 10:11:12'),
(2, 1, 'Bumi manusia', 'Pramoedya Ananta Toer', '', '979 97312 3 2', 2, 'c2005', '535 hlm. ; 21 cm',
 '', '899.221 3 TOE b', 'id', 3, '899.221 3', 'Buku pertama Tetralogi Buru', 0, 14, '0000-00-00 00:00:00', NULL),
(3, 1, 'Evaluasi Kinerja Perusahaan', '', '', '979-686-698-6', 3, '2001', 'xiii + 242 Hlm ; 15 x 23 cm',
 NULL, '<653.401>', 'id', 2, '', NULL, 0, NULL, '2012-05-02 10:11:12', NULL),
(4, 1, 'Sosiologi Ã‰mile Durkheim : sebuah pengantar', '', '', '-', 0, '', '', '', '301 DUR s', '', 0,
 '', 'Kata pengantar oleh â€˜Aisyahâ€™', 0, 14, '0000-00-00 00:00:00', '0000-00-00 00:00:00'),
(5, 21, 'Analisis sistem informasi perpustakaan berbasis web', 'Siswanto ; pembimbing Dewi Handayani', '', '', 4,
 '[2019?]', 'xii, 88 hlm. : ilus. ; 30 cm', '', 'SK 025.04 SIS a', 'id', 1, '', '', 0, 14, '2019-08-01 09:00:00', NULL),
(6, 22, 'Berkala ilmu kedokteran', '', '', '0126 0537', 4, '2018', '', '', '610.5 BER', 'en', 1, '', '', 0, 14,
 '2018-01-01 00:00:00', NULL),
(7, 1, '', '', '', '', 0, '', '', '', '', 'id', 0, '', '', 0, NULL, NULL, NULL),
(8, 4, 'Belajar sendiri Microsoft Excel 2016', '', '', '978 - 602 - 03 - 1258 - 3', 5, '2016', '1 CD-ROM',
 '', '005.54 BEL', 'id', 2, '', '', 1, NULL, '2017-02-02 00:00:00', NULL);

CREATE TABLE `biblio_author` (
  `biblio_id` int(11) NOT NULL default '0',
  `author_id` int(11) NOT NULL default '0',
  `level` int(1) NOT NULL default '1',
  PRIMARY KEY (`biblio_id`, `author_id`)
) ENGINE=MyISAM DEFAULT CHARSET=utf8 COLLATE=utf8_unicode_ci;
INSERT INTO `biblio_author` VALUES
(1, 1, 1), (2, 2, 1), (2, 3, 1), (3, 4, 1), (4, 5, 1), (5, 6, 1), (5, 7, 10), (5, 8, 2);

CREATE TABLE `biblio_topic` (
  `biblio_id` int(11) NOT NULL default '0',
  `topic_id` int(11) NOT NULL default '0',
  `level` int(1) NOT NULL default '1',
  PRIMARY KEY (`biblio_id`, `topic_id`)
) ENGINE=MyISAM DEFAULT CHARSET=utf8 COLLATE=utf8_unicode_ci;
INSERT INTO `biblio_topic` VALUES
(1, 1, 1), (2, 1, 1), (2, 2, 2), (3, 3, 1), (4, 4, 1), (4, 5, 2), (5, 6, 1);

CREATE TABLE `item` (
  `item_id` int(11) NOT NULL auto_increment,
  `biblio_id` int(11) default NULL,
  `call_number` varchar(50) collate utf8_unicode_ci default NULL,
  `coll_type_id` int(3) default NULL,
  `item_code` varchar(20) collate utf8_unicode_ci default NULL,
  `inventory_code` varchar(200) collate utf8_unicode_ci default NULL,
  `received_date` date default NULL,
  `location_id` varchar(3) collate utf8_unicode_ci default NULL,
  `item_status_id` char(3) collate utf8_unicode_ci default NULL,
  `input_date` datetime NOT NULL,
  `last_update` datetime default NULL,
  PRIMARY KEY (`item_id`),
  UNIQUE KEY `item_code` (`item_code`),
  KEY `biblio_id_idx` (`biblio_id`)
) ENGINE=MyISAM DEFAULT CHARSET=utf8 COLLATE=utf8_unicode_ci;
INSERT INTO `item` VALUES
(1, 1, '899.221 3 HIR l c.1', 3, 'B0001', 'INV/2012/001', '2012-05-02', 'PST', '0', '2012-05-02 10:11:12', NULL),
(2, 1, '', 3, 'B0002', '', '0000-00-00', 'XYZ', NULL, '2012-05-02 10:11:12', NULL),
(3, 2, '', 3, 'B0003', '', NULL, 'PST', '', '2012-05-02 10:11:12', NULL),
(4, 2, '', 3, 'B0004', '', NULL, 'FT', 'MIS', '2012-05-02 10:11:12', NULL),
(5, 3, '', 2, '00020.1', '', NULL, '', NULL, '2012-05-02 10:11:12', NULL),
(6, 5, '', 1, 'SK-2019-001', '', NULL, 'FT', 'NL', '2019-08-01 09:00:00', NULL),
(7, 6, '', 1, 'B0006', '', NULL, 'PST', NULL, '2018-01-01 00:00:00', NULL),
(8, 8, '', 2, '', '', NULL, 'PST', NULL, '2017-02-02 00:00:00', NULL),
(9, 8, '', 2, 'B0008', '', NULL, 'PST', 'R', '2017-02-02 00:00:00', NULL),
(11, 404, '', 2, 'B0404', '', NULL, 'PST', NULL, '2017-02-02 00:00:00', NULL);

CREATE TABLE `mst_member_type` (
  `member_type_id` int(11) NOT NULL auto_increment,
  `member_type_name` varchar(50) collate utf8_unicode_ci NOT NULL,
  `loan_limit` int(11) NOT NULL,
  `loan_periode` int(11) NOT NULL,
  `enable_reserve` int(1) NOT NULL default '0',
  `reserve_limit` int(11) NOT NULL default '0',
  `member_periode` int(11) NOT NULL,
  `reborrow_limit` int(11) NOT NULL,
  `fine_each_day` int(11) NOT NULL,
  `grace_periode` int(2) default '0',
  PRIMARY KEY (`member_type_id`)
) ENGINE=MyISAM DEFAULT CHARSET=utf8 COLLATE=utf8_unicode_ci;
INSERT INTO `mst_member_type` VALUES
(1, 'Mahasiswa', 3, 7, 1, 2, 365, 1, 500, 0),
(2, 'Dosen', 10, 30, 1, 5, 1095, 2, 0, 0);

CREATE TABLE `member` (
  `member_id` varchar(20) collate utf8_unicode_ci NOT NULL,
  `member_name` varchar(100) collate utf8_unicode_ci NOT NULL,
  `gender` int(1) NOT NULL,
  `birth_date` date default NULL,
  `member_type_id` int(6) default NULL,
  `member_email` varchar(100) collate utf8_unicode_ci default NULL,
  `inst_name` varchar(100) collate utf8_unicode_ci default NULL,
  `pin` varchar(50) collate utf8_unicode_ci default NULL,
  `member_phone` varchar(50) collate utf8_unicode_ci default NULL,
  `member_since_date` date default NULL,
  `register_date` date default NULL,
  `expire_date` date NOT NULL,
  `is_pending` smallint(1) NOT NULL default '0',
  `mpasswd` varchar(64) NULL,
  PRIMARY KEY (`member_id`)
) ENGINE=MyISAM DEFAULT CHARSET=utf8 COLLATE=utf8_unicode_ci;
INSERT INTO `member` VALUES
('M001', 'Siti Nurhaliza', 0, '2001-04-21', 1, 'siti.nurhaliza@example.ac.id', 'Fakultas Teknik', '', '0812-3456-7890',
 '2019-08-01', '2019-08-01', '2027-06-30', 0, '$2y$10$abcdefghijklmnopqrstuuW0G8xJ0y1zQJ9y1xQJ9y1xQJ9y1xQ'),
('M002', 'Budi Santoso', 1, '0000-00-00', 2, '', '', '', '', '2010-01-01', '2010-01-01', '0000-00-00', 0, NULL),
('M003', 'Rahmat HidayatÂ ', 1, NULL, 99, 'bukan-email', '', '', 'tidak ada', '2020-01-01', '2020-01-01', '2025-01-31', 0, NULL),
('M004', '', 1, NULL, 1, NULL, '', '', '', '2020-01-01', '2020-01-01', '2026-01-31', 0, NULL);

CREATE TABLE `loan` (
  `loan_id` int(11) NOT NULL AUTO_INCREMENT,
  `item_code` varchar(20) COLLATE utf8_unicode_ci DEFAULT NULL,
  `member_id` varchar(20) COLLATE utf8_unicode_ci DEFAULT NULL,
  `loan_date` date NOT NULL,
  `due_date` date NOT NULL,
  `renewed` int(11) NOT NULL DEFAULT '0',
  `loan_rules_id` int(11) NOT NULL DEFAULT '0',
  `actual` date DEFAULT NULL,
  `is_lent` int(11) NOT NULL DEFAULT '0',
  `is_return` int(11) NOT NULL DEFAULT '0',
  `return_date` date DEFAULT NULL,
  PRIMARY KEY (`loan_id`)
) ENGINE=MyISAM DEFAULT CHARSET=utf8 COLLATE=utf8_unicode_ci;
INSERT INTO `loan` VALUES
(1, 'B0003', 'M001', '2026-11-20', '2026-11-27', 1, 0, NULL, 1, 0, NULL),
(2, 'B0001', 'M002', '2026-01-05', '2026-01-12', 0, 0, NULL, 1, 1, '2026-01-12'),
(3, 'B9999', 'M001', '2026-11-21', '2026-11-28', 0, 0, NULL, 1, 0, NULL),
(4, '00020.1', 'M404', '2026-11-21', '2026-11-28', 0, 0, NULL, 1, 0, NULL),
(5, 'B0006', 'M002', '2026-11-22', '0000-00-00', 0, 0, NULL, 1, 0, NULL),
(6, 'B0001', 'M001', '2026-11-25', '2026-12-02', 0, 0, NULL, 1, 0, NULL);
